"""`grefbench train`: AdamW with warm-up and decay, gradient clipping, AMP on CUDA, DDP under torchrun,
periodic validation through the same scorer as `grefbench eval`, resumable checkpoints, logs and a plot.

Outputs in OUT: model_final.pth (what `load_model` reads), checkpoints/last.pth (full training
state), training_log.{csv,json}, loss_curve.svg.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from grefbench.errors import DatasetError, UsageError
from grefbench.inference import distributed
from grefbench.training.log import TrainingLog
from grefbench.training.schedule import DECAYS, learning_rate_factor
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
    # None: the family's official value (its TrainingRecipe.defaults / loss_options).
    lr: float | None = None
    weight_decay: float | None = None
    warmup: int | None = None
    decay: str | None = None
    lr_floor: float | None = None
    clip: float | None = None
    dice_weight: float | None = None
    category_weight: float | None = None
    no_target_weight: float | None = None
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

    def with_family_defaults(self, family) -> "TrainOptions":
        """The options with every unset value taken from `family`'s recipe; a loss option the family's
        loss does not have is refused (it would be silently ignored)."""
        import dataclasses

        recipe = family.training
        values = {key: value for key, value in recipe.defaults.items() if getattr(self, key) is None}
        for key in ("dice_weight", "category_weight", "no_target_weight"):
            if key in recipe.loss_options:
                if getattr(self, key) is None:
                    values[key] = recipe.loss_options[key]
            elif getattr(self, key) is not None:
                known = ", ".join("--" + k.replace("_", "-") for k in recipe.loss_options) or "none"
                raise UsageError(f"--{key.replace('_', '-')} is not an option of {family.name}'s loss "
                                 f"(its loss options: {known})")
        resolved = dataclasses.replace(self, **values)
        missing = [key for key in ("lr", "weight_decay", "warmup", "decay", "lr_floor", "clip")
                   if getattr(resolved, key) is None]
        if missing:
            raise UsageError(f"the {family.name} recipe sets no default for {', '.join(missing)}; give them")
        return resolved

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


def _set_train_mode(model, freeze_text: bool) -> None:
    model.train()
    if freeze_text:
        model.text_encoder.eval()  # frozen: no dropout either


def build_training_model(options: TrainOptions, family, device: str):
    """The model to train, from its family's recipe, with the text encoder frozen if asked."""
    model = family.build_for_training(options, device)
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
    from grefbench.models import get_model_spec
    from grefbench.provenance import provenance
    from grefbench.training.samples import TrainingSamples

    family = get_model_spec(options.model)
    options = options.with_family_defaults(family)

    if options.precision not in ("fp32", "bf16", "fp16"):
        raise UsageError(f"--precision must be fp32, bf16 or fp16, not {options.precision!r}")
    if options.steps < 1 or options.batch_size < 1:
        raise UsageError("--steps and --batch-size must be positive")
    if options.group_by_image < 1:
        raise UsageError("--group-by-image must be at least 1")
    if options.decay not in DECAYS:
        raise UsageError(f"--decay must be one of {', '.join(DECAYS)}, not {options.decay!r}")
    if not 0 <= options.lr_floor <= 1:
        raise UsageError(f"--lr-floor must be between 0 and 1, not {options.lr_floor}")
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
        model = build_training_model(options, family, device)
        family.training.check(model, options, split)
        tokenizer = family.tokenizer(model, options.tokenizer)
        samples = TrainingSamples(split, family.transform(model), tokenizer,
                                  categories=family.training.needs_categories(options))
        criterion = family.training.criterion(model, options)
        optimizer = torch.optim.AdamW(family.training.parameter_groups(model, options), lr=options.lr)
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
                model, device_ids=[context.local_rank] if use_cuda else None, find_unused_parameters=family.training.find_unused_parameters)
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
                factor = learning_rate_factor(step, total=options.steps, warmup=options.warmup, decay=options.decay,
                                              floor=options.lr_floor)
                for group in optimizer.param_groups:
                    group["lr"] = group["base_lr"] * factor
                with autocast:
                    outputs = trained(batch["images"].to(device, non_blocking=True), batch["lang_tokens"].to(device),
                                      batch["lang_mask"].to(device))
                    loss = criterion(outputs, batch, device)
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
    family.save(model, final, include_text_encoder=not (packaged and options.freeze_text))
    return final
