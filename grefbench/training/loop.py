"""`grefbench train`: AdamW with warm-up and decay, gradient clipping, AMP on CUDA, DDP under torchrun,
periodic validation through the same scorer as `grefbench eval`, resumable checkpoints, logs and a plot.

Outputs in OUT: model_final.pth (what `load_model` reads), checkpoints/last.pth (full training
state), training_log.{csv,json}, loss_curve.svg.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from grefbench.errors import DatasetError, UsageError
from grefbench.inference import distributed
from grefbench.training.log import TrainingLog
from grefbench.training.schedule import learning_rate_factor
from grefbench.training.state import load_state, restore_rng, save_state


@dataclass
class TrainOptions:
    """Everything `grefbench train` takes (the recipe of a run)."""

    data_root: Path
    dataset: str
    out: Path
    config: Any
    config_overrides: tuple[str, ...] = ()
    split: str = "train"
    val_split: str | None = "val"
    model: str = "rela"
    text_config: Any = None
    text_weights: str | None = None
    freeze_text: bool = False
    group_by_image: int = 1
    init_weights: Path | None = None
    tokenizer: Path | None = None
    steps: int = 1000
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.05
    warmup: int = 100
    decay: str = "cosine"
    clip: float = 1.0
    dice_weight: float = 0.0
    category_weight: float = 0.0
    no_target_weight: float = 0.1
    backbone_lr_multiplier: float = 1.0
    precision: str = "fp32"
    device: str = "auto"
    workers: int = 2
    seed: int = 0
    log_every: int = 20
    eval_every: int = 500
    eval_limit: int | None = 300
    checkpoint_every: int = 200
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def recipe(self) -> dict[str, Any]:
        """The options as plain data (stored with checkpoints and logs)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items() if k != "extra"}


def epoch_order(rng: np.random.Generator, groups: np.ndarray | None, count: int, size: int) -> np.ndarray:
    """One epoch's order of all `count` sentences.

    With `groups` (an image key per sentence) and size > 1, sentences of one image come in runs of
    up to `size` (runs shuffled across images), so a batch holds several sentences about the same
    image: the loss can only fall by following the sentence, not by segmenting every object.
    """
    if groups is None or size <= 1:
        return rng.permutation(count)
    shuffled = rng.permutation(count)
    by_group: dict[int, list[int]] = {}
    for index in shuffled.tolist():
        by_group.setdefault(int(groups[index]), []).append(index)
    # Balanced runs (5 sentences with size 4 give 3 + 2, not 4 + 1).
    runs = [run for members in by_group.values()
            for run in np.array_split(np.asarray(members, dtype=np.int64), -(-len(members) // size))]
    return np.concatenate([runs[i] for i in rng.permutation(len(runs))])


class EpochBatches:
    """Batches of sentence indices for steps [start, stop): a fresh seeded order per epoch.

    The global batch (batch_size x world_size) depends only on the seed and the step, so a
    resumed run sees exactly the batches it would have seen; each rank takes its slice.
    """

    def __init__(self, count: int, batch_size: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1,
                 groups: np.ndarray | None = None, group_size: int = 1):
        self.count, self.batch_size, self.seed = count, batch_size, seed
        self.start, self.stop, self.rank, self.world = start, stop, rank, world
        self.groups, self.group_size = groups, group_size

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self) -> Iterator[list[int]]:
        per_step = self.batch_size * self.world
        if per_step > self.count:
            raise UsageError(f"a global batch of {per_step} sentences is larger than the split ({self.count})")
        steps_per_epoch = self.count // per_step
        order, order_epoch = None, None
        for step in range(self.start, self.stop):
            epoch, offset = divmod(step, steps_per_epoch)
            if epoch != order_epoch:
                rng = np.random.default_rng([self.seed, epoch])
                order, order_epoch = epoch_order(rng, self.groups, self.count, self.group_size), epoch
            chunk = order[offset * per_step:(offset + 1) * per_step]
            yield chunk[self.rank * self.batch_size:(self.rank + 1) * self.batch_size].tolist()


def _parameter_groups(model, lr: float, weight_decay: float, backbone_multiplier: float) -> list[dict[str, Any]]:
    """AdamW groups: no decay on norms, biases and embeddings; the backbone at lr * multiplier."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        no_decay = parameter.ndim <= 1 or "norm" in name or "embed" in name or "relative_position_bias_table" in name
        groups.setdefault((name.startswith("backbone."), no_decay), []).append(parameter)
    return [
        {"params": params, "lr": lr * (backbone_multiplier if backbone else 1.0),
         "weight_decay": 0.0 if no_decay else weight_decay, "base_lr": lr * (backbone_multiplier if backbone else 1.0)}
        for (backbone, no_decay), params in groups.items()
    ]


def _set_train_mode(model, freeze_text: bool) -> None:
    model.train()
    if freeze_text:
        model.text_encoder.eval()  # frozen: no dropout either


def _openable_language_gates(model) -> None:
    """Let the Swin stages' language gates learn when training from scratch.

    The official ReLA zero-initialises both linear layers of each `res_gate` (Linear, ReLU,
    Linear, Tanh): its output and its gradient are then exactly zero, so the gate never opens
    and language never reaches the next stage's input (LAVT, where the module comes from, does not
    zero them). Here the first layer gets nn.Linear's own initialisation and the second stays
    zero: the gate still starts closed, but it can learn. Loaded weights are not touched.
    """
    import math

    import torch

    for module in model.backbone.modules():
        gate = getattr(module, "res_gate", None)
        if isinstance(gate, torch.nn.Sequential):
            torch.nn.init.kaiming_uniform_(gate[0].weight, a=math.sqrt(5))


def _check_category_head(classes: int, weight: float, split) -> None:
    """`--category-weight` and the config's category head (GREFBENCH.CATEGORY_CLASSES) go together."""
    if weight > 0 and not classes:
        raise UsageError("--category-weight needs a category head: add --set GREFBENCH.CATEGORY_CLASSES=N "
                         "(N = largest category id + 1)")
    if classes and not weight > 0:
        raise UsageError(f"the config has a category head (GREFBENCH.CATEGORY_CLASSES={classes}); "
                         "train it with --category-weight W (W > 0)")
    if classes and split.categories and max(split.categories) >= classes:
        raise UsageError(f"GREFBENCH.CATEGORY_CLASSES={classes} is too small for {split.dataset}: its largest "
                         f"category id is {max(split.categories)}, so it needs at least {max(split.categories) + 1}")


def build_training_model(options: TrainOptions, device: str):
    """The model to train: from its config (or initial weights), with the text encoder as asked."""
    from grefbench.models.rela.build import build_rela
    from grefbench.models.rela.config import load_config

    config = load_config(options.config, options.config_overrides) if options.config_overrides else options.config
    model = build_rela(config=config, weights=options.init_weights, text_config=options.text_config,
                       device=device, text_weights=options.text_weights)
    if options.init_weights is None:
        _openable_language_gates(model)
    if options.freeze_text:
        for parameter in model.text_encoder.parameters():
            parameter.requires_grad_(False)
    return model


def train(options: TrainOptions, *, progress: Callable[[str, int], Any] | None = None) -> Path | None:
    """Train; returns the path of model_final.pth on rank 0 (None on other ranks)."""
    import torch

    from grefbench.data.split import load_split
    from grefbench.inference.in_memory import evaluate_model, subset
    from grefbench.inference.runner import resolve_device
    from grefbench.models.rela.checkpoint import save_checkpoint
    from grefbench.models.rela.criterion import ReferringCriterion
    from grefbench.models.rela.text import ReferringTokenizer
    from grefbench.provenance import provenance
    from grefbench.training.samples import TrainingSamples

    if options.precision not in ("fp32", "bf16", "fp16"):
        raise UsageError(f"--precision must be fp32, bf16 or fp16, not {options.precision!r}")
    if options.steps < 1 or options.batch_size < 1:
        raise UsageError("--steps and --batch-size must be positive")
    if options.group_by_image < 1:
        raise UsageError("--group-by-image must be at least 1")
    if not options.dice_weight >= 0:  # also refuses NaN: a negative weight would be silently ignored
        raise UsageError(f"--dice-weight must be 0 or more, not {options.dice_weight}")
    if not options.category_weight >= 0:
        raise UsageError(f"--category-weight must be 0 or more, not {options.category_weight}")
    if not 0 <= options.no_target_weight < math.inf:
        raise UsageError(f"--no-target-weight must be 0 or more, not {options.no_target_weight}")
    device = resolve_device(options.device)
    if options.threads:
        torch.set_num_threads(options.threads)
    out = Path(options.out)
    with distributed.process_group("cuda" if device.startswith("cuda") else "cpu") as context:
        if device == "cuda" and context.active:
            device = f"cuda:{context.local_rank}"
        random.seed(options.seed)
        np.random.seed(options.seed)
        torch.manual_seed(options.seed)
        split = load_split(options.data_root, options.dataset, options.split)
        val = load_split(options.data_root, options.dataset, options.val_split) if options.val_split else None
        model = build_training_model(options, device)
        _check_category_head(model.config.category_classes, options.category_weight, split)
        tokenizer = ReferringTokenizer(options.tokenizer, max_tokens=int(model.config.max_tokens))
        samples = TrainingSamples(split, int(model.config.image_size), tokenizer,
                                  categories=options.category_weight > 0)
        criterion = ReferringCriterion(mask_weight=model.config.mask_weight, dice_weight=options.dice_weight,
                                       category_weight=options.category_weight,
                                       no_target_weight=options.no_target_weight)
        optimizer = torch.optim.AdamW(_parameter_groups(model, options.lr, options.weight_decay,
                                                        options.backbone_lr_multiplier), lr=options.lr)
        use_cuda = device.startswith("cuda")
        scaler = torch.amp.GradScaler("cuda") if use_cuda and options.precision == "fp16" else None
        record = provenance(dataset=split.dataset, split=split.split, protocol="rela480", files=split.files,
                            command="grefbench train", recipe=options.recipe(), world_size=context.world_size,
                            device=device, **options.extra)

        state_path = out / "checkpoints" / "last.pth"
        start = 0
        if state_path.is_file():
            state = load_state(state_path)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if scaler is not None and state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
            restore_rng(state)
            start = int(state["step"])
        log = TrainingLog.resume(out, record, start)

        trained = model
        if context.active:
            trained = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[context.local_rank] if use_cuda else None, find_unused_parameters=False)
        from grefbench.inference.inputs import keep_batch

        images = np.asarray([record.image_id for record in split.records], dtype=np.int64)
        batches = EpochBatches(len(samples), options.batch_size, options.seed, start, options.steps,
                               context.rank, context.world_size, groups=images, group_size=options.group_by_image)
        # Its own generator: a loader drawing its base seed from the global RNG would shift the
        # restored RNG of a resumed run.
        loader = torch.utils.data.DataLoader(samples, batch_sampler=batches, collate_fn=keep_batch,
                                             num_workers=options.workers, pin_memory=use_cuda,
                                             generator=torch.Generator().manual_seed(options.seed))
        autocast = (torch.autocast("cuda" if use_cuda else "cpu",
                                   dtype=torch.bfloat16 if options.precision == "bf16" else torch.float16)
                    if options.precision != "fp32" else contextlib.nullcontext())

        def validate(step: int) -> None:
            if val is None or not context.is_main:
                return
            result = evaluate_model(model, subset(val, options.eval_limit), batch_size=options.batch_size,
                                    tokenizer=tokenizer, device=device)
            values = result.metrics
            log.add(step=step, **{f"val_{k}": values[k] for k in ("cIoU", "gIoU", "N-acc", "T-acc")},
                    val_sentences=values["num_expressions"])
            _set_train_mode(model, options.freeze_text)

        def checkpoint(step: int) -> None:
            if context.is_main:
                # Log first: a resumed run drops log rows past its state's step, never the reverse.
                log.save()
                save_state(state_path, model=model, optimizer=optimizer, scaler=scaler, step=step,
                           settings=options.recipe())

        _set_train_mode(model, options.freeze_text)
        bar = progress("training", options.steps - start) if progress and context.is_main else None
        window: list[float] = []
        seen, window_start = 0, time.perf_counter()
        with bar if bar is not None else contextlib.nullcontext(lambda n=1, **k: None) as advance:
            for step, batch in enumerate(loader, start=start):
                if "error" in batch:
                    raise DatasetError(batch["error"])
                factor = learning_rate_factor(step, total=options.steps, warmup=options.warmup, decay=options.decay)
                for group in optimizer.param_groups:
                    group["lr"] = group["base_lr"] * factor
                with autocast:
                    outputs = trained(batch["images"].to(device, non_blocking=True), batch["lang_tokens"].to(device),
                                      batch["lang_mask"].to(device))
                    categories = batch.get("gt_categories")
                    loss = criterion(outputs, batch["gt_masks"].to(device), batch["no_target"].to(device),
                                     None if categories is None else categories.to(device))["loss_mask"]
                if not torch.isfinite(loss):
                    raise UsageError(f"the loss became {loss.item()} at step {step}; lower --lr or use --precision fp32")
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                if options.clip > 0:
                    torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], options.clip)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                window.append(float(loss.detach()))
                seen += len(batch["no_target"]) * context.world_size
                done = step + 1
                advance(1, status=f"loss {np.mean(window[-20:]):.3f}")
                if done % options.log_every == 0 or done == options.steps:
                    elapsed = time.perf_counter() - window_start
                    log.add(step=done, loss=float(np.mean(window)), lr=optimizer.param_groups[0]["lr"],
                            sentences_per_second=seen / elapsed if elapsed > 0 else None)
                    window, seen, window_start = [], 0, time.perf_counter()
                if options.eval_every and done % options.eval_every == 0 and done != options.steps:
                    validate(done)
                if done % options.checkpoint_every == 0 and done != options.steps:
                    checkpoint(done)
        if start < options.steps or not (out / "model_final.pth").is_file():
            validate(options.steps)
            checkpoint(options.steps)
        distributed.barrier(context)
        if not context.is_main:
            return None
    final = out / "model_final.pth"
    # A frozen text encoder that came from a package stays out of the checkpoint (loading takes it
    # from the package again), which keeps a small model's weights small.
    packaged = getattr(model, "text_encoder_source", None) is not None
    save_checkpoint(model, final, include_text_encoder=not (packaged and options.freeze_text))
    return final
