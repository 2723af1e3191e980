"""`grefbench eval`: run a model over a split, write the prediction file, score it, keep the tables.

Outputs in OUT: predictions.json.gz (grefbench-predictions/1), metrics.json, per_sentence.parquet,
boxes.json.gz and grec_metrics.json (GREC boxes derived from the masks, grefbench/boxes_from_masks.py),
plus shards/ (finished work, for resuming). Under torchrun each rank computes its shards, rank 0
gathers and writes; the outputs are identical to a single process.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grefbench.data.catalog import get_dataset, image_root
from grefbench.data.protocols import get_protocol
from grefbench.data.split import ReferSplit, load_split
from grefbench.errors import DatasetError, GrefbenchError, UsageError
from grefbench.inference import distributed
from grefbench.inference.masks import prediction_entries
from grefbench.inference.shards import Shard, ShardStore, plan_shards
from grefbench.boxes_from_masks import write_grec_outputs
from grefbench.io.predictions import FORMAT, parse_predictions, write_predictions
from grefbench.io.tables import write_json, write_table
from grefbench.provenance import file_sha256, provenance
from grefbench.scoring import ScoreResult, score_predictions

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class EvalOptions:
    """Everything `grefbench eval` takes."""

    data_root: Path
    dataset: str
    split: str
    out: Path
    model: str = "rela"
    config: str | None = None
    weights: Path | None = None
    text_config: Path | None = None
    tokenizer: Path | None = None
    protocol: str = "rela480"
    device: str = "auto"
    batch_size: int = 8
    workers: int = 2
    precision: str = "fp32"
    shard_size: int = 256
    restart: bool = False
    threads: int | None = None
    min_area: int = 0
    share_images: bool = True
    extra_provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalOutputs:
    """What rank 0 wrote and the score."""

    result: ScoreResult
    predictions: Path
    metrics: Path
    per_sentence: Path
    seconds: float
    sentences_computed: int


def resolve_device(device: str) -> str:
    """"auto" is cuda when a GPU is visible, else cpu."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UsageError(f"--device must be auto, cpu or cuda, not {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda was given but torch sees no GPU")
    return device


def check_images(split: ReferSplit) -> None:
    """Every image of the split exists (checked up front, before any model work)."""
    root = image_root(split.root, get_dataset(split.dataset))
    missing = sorted({r.file_name for r in split.records if not (root / r.file_name).is_file()})
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DatasetError(f"image not found: {root / missing[0]}{more}. Expected images in {root}/")


def _autocast(device: str, precision: str):
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    kind = "cuda" if device.startswith("cuda") else "cpu"
    if kind == "cpu" and precision == "fp16":
        raise UsageError("--precision fp16 needs CUDA; on CPU use fp32 or bf16")
    return torch.autocast(kind, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def _compute_shards(model, family, split: ReferSplit, shards: list[Shard], store: ShardStore, options: EvalOptions,
                    device: str, advance: Callable[[int], None]) -> None:
    """Run the model over `shards`, saving each one as soon as its last batch is done."""
    import torch
    from torch.utils.data import DataLoader

    from grefbench.inference.inputs import SentenceInputs, keep_batch

    if not shards:
        return
    transform = family.transform(model)
    tokenizer = family.tokenizer(model, options.tokenizer)
    share = options.share_images and family.shares_images(model)
    dataset = SentenceInputs(split.records, image_root(split.root, get_dataset(split.dataset)), transform, tokenizer)
    batches = [list(batch) for shard in shards for batch in shard.batches]
    owner = [shard for shard in shards for _ in shard.batches]
    loader = DataLoader(dataset, batch_sampler=batches, collate_fn=keep_batch, num_workers=options.workers,
                        pin_memory=device.startswith("cuda"))
    protocol = get_protocol(options.protocol)
    pending: dict[int, list[dict]] = {}
    remaining = {shard.number: len(shard.batches) for shard in shards}
    with torch.inference_mode():
        for shard, batch in zip(owner, loader):
            if "error" in batch:
                raise DatasetError(batch["error"])
            with _autocast(device, options.precision):
                outputs = run_batch(model, batch, device, share)
            records = [split.records[i] for i in batch["indices"].tolist()]
            entries = prediction_entries(family.decode(outputs), records, transform, protocol,
                                         min_area=options.min_area)
            pending.setdefault(shard.number, []).extend(_benchmark_entries(entries, protocol.name))
            remaining[shard.number] -= 1
            if remaining[shard.number] == 0:
                store.save(shard, pending.pop(shard.number))
            advance(len(records))


def _benchmark_entries(entries: list[dict], protocol: str) -> list[dict]:
    """Under refzom480 / rrefcoco480 only masks count, so a no-target prediction is an empty mask."""
    from grefbench.data.protocols import BENCHMARK_PROTOCOLS

    if protocol not in BENCHMARK_PROTOCOLS.values():
        return entries
    return [{k: v for k, v in e.items() if k != "mask"} if e["no_target"] else e for e in entries]


def _load_eval_split(options: EvalOptions):
    """The split to evaluate: a gRefCOCO-style split, or Ref-ZOM / R-RefCOCO* in their own protocol."""
    from grefbench.data.protocols import BENCHMARK_PROTOCOLS

    family = get_dataset(options.dataset).family
    expected = BENCHMARK_PROTOCOLS.get(family)
    if expected is None:
        if options.protocol in BENCHMARK_PROTOCOLS.values():
            raise UsageError(f"--protocol {options.protocol} is only for its benchmark, not {options.dataset}")
        return load_split(options.data_root, options.dataset, options.split)
    if options.protocol != expected:
        raise UsageError(f"{options.dataset} is evaluated in its official protocol {expected}, not {options.protocol}")
    from grefbench.data.rrefcoco import load_zero_target_split

    return load_zero_target_split(options.data_root, options.dataset, options.split)


def _score(parsed, split):
    if get_dataset(split.dataset).family != "refer":
        from grefbench.zero_target_scoring import score_zero_target

        return score_zero_target(parsed, split)
    return score_predictions(parsed, split, keep_per_sentence=True)


def run_batch(model, batch: dict[str, Any], device: str, share: bool) -> dict[str, Any]:
    """Eval-mode outputs for a batch: with `share`, the image encoder runs once per distinct image."""
    tokens, mask = batch["lang_tokens"].to(device), batch["lang_mask"].to(device)
    if share:
        encoded = model.encode_images(batch["unique_images"].to(device, non_blocking=True))
        return model.decode_sentences(encoded, batch["image_index"].to(device), tokens, mask)
    return model(batch["images"].to(device, non_blocking=True), tokens, mask)


def model_description(options: EvalOptions, family, model) -> dict[str, Any]:
    """What the outputs record of the model: name, config, weights and their hash, input, no-target rule."""
    transform = family.transform(model)
    info: dict[str, Any] = {"name": options.model, "config": str(options.config) if options.config else None,
                            "weights": str(options.weights) if options.weights else None,
                            "weights_sha256": file_sha256(options.weights) if options.weights else None,
                            "image_size": int(transform.input_size[0]), "input": transform.describe()}
    if not family.no_target_head:
        info["no_target_rule"] = ("empty mask" if options.min_area <= 0
                                  else f"mask of fewer than {options.min_area} pixels")
        info["min_area"] = options.min_area
    return info


def run_eval(options: EvalOptions, *, progress: Callable[[str, int], Any] | None = None) -> EvalOutputs | None:
    """Evaluate; returns the outputs on rank 0 (None on other ranks)."""
    import torch

    from grefbench.models import get_model_spec, load_model

    family = get_model_spec(options.model)
    if options.min_area < 0:
        raise UsageError(f"--min-area must be 0 or more, not {options.min_area}")
    if options.min_area and family.no_target_head:
        raise UsageError(f"--min-area is for families that call an empty mask no-target; {family.name} has a "
                         "no-target head")
    if options.precision not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, not {options.precision!r}")
    if options.batch_size < 1 or options.shard_size < 1 or options.workers < 0:
        raise UsageError("--batch-size and the shard size must be positive and --workers not negative")
    protocol = get_protocol(options.protocol)
    device = resolve_device(options.device)
    if options.threads:
        torch.set_num_threads(options.threads)
    started = time.perf_counter()
    with distributed.process_group("cuda" if device.startswith("cuda") else "cpu") as context:
        if device == "cuda" and context.active:
            device = f"cuda:{context.local_rank}"
        split = _load_eval_split(options)
        check_images(split)
        model = load_model(options.model, config=options.config, weights=options.weights,
                           text_config=options.text_config, device=device)
        model_info = model_description(options, family, model)
        settings = {"format": FORMAT, "model": model_info, "dataset": split.dataset, "split": split.split,
                    "protocol": protocol.name, "annotation_files": [f.sha256 for f in split.files],
                    "batch_size": options.batch_size, "shard_size": options.shard_size,
                    "precision": options.precision, "tokenizer": str(options.tokenizer or "")}

        store = None
        if context.is_main:
            store = ShardStore(options.out, settings, restart=options.restart)
        distributed.barrier(context)
        if store is None:
            store = ShardStore(options.out, settings)
        shards = plan_shards(split, options.shard_size, options.batch_size)
        mine = [s for s in shards if s.number % context.world_size == context.rank]
        todo = [s for s in mine if store.load(s, split) is None]
        computed = sum(len(s.positions) for s in todo)

        bar = progress("evaluating", computed) if progress and context.is_main else None
        try:
            with bar if bar is not None else contextlib.nullcontext(lambda n=1: None) as advance:
                _compute_shards(model, family, split, todo, store, options, device, advance)
        except GrefbenchError as error:
            if not context.active:
                raise
            failure: str | None = str(error)
        else:
            failure = None
        if context.active:
            # Every rank learns of any rank's failure, so none waits forever for the others.
            failures = [f for f in distributed.gather_to_main(context, failure) or [] if f]
            failures = distributed.broadcast_from_main(context, failures)
            if failures:
                raise GrefbenchError(failures[0])

        entries_by_shard = {s.number: store.load(s, split) for s in mine}
        gathered = distributed.gather_to_main(context, entries_by_shard)
        if not context.is_main:
            return None

    by_sentence = {entry["sent_id"]: entry for part in gathered for entries in part.values() for entry in entries}
    entries = [by_sentence[r.sent_id] for r in split.records]
    out = Path(options.out)
    record = provenance(dataset=split.dataset, split=split.split, protocol=protocol.name, files=split.files,
                        command="grefbench eval", model=model_info, device=device, precision=options.precision,
                        world_size=context.world_size, batch_size=options.batch_size, **options.extra_provenance)
    document = {"format": FORMAT, "dataset": split.dataset, "split": split.split, "protocol": protocol.name,
                "model": {k: v for k, v in model_info.items() if v is not None}, "provenance": record,
                "predictions": entries}
    predictions_path = out / "predictions.json.gz"
    parsed = parse_predictions(predictions_path, json.loads(json.dumps(document)))
    result = _score(parsed, split)
    result.provenance.update({k: v for k, v in record.items() if k not in result.provenance})
    write_predictions(predictions_path, dataset=split.dataset, split=split.split, protocol=protocol.name,
                      model=document["model"], entries=entries, provenance=record)
    metrics_path = write_json(out / "metrics.json", result.to_json())
    if get_dataset(split.dataset).family == "refer":  # GREC is defined on gRefCOCO-layout data only
        write_grec_outputs(parsed, entries, split, out)  # boxes derived from the masks, and their metrics
    table_path = write_table(out / "per_sentence.parquet", result.per_sentence(), result.provenance)
    return EvalOutputs(result, predictions_path, metrics_path, table_path, time.perf_counter() - started, computed)
