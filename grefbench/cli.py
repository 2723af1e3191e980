"""The `grefbench` command line: thin wrappers over library functions, one per command.

Every command is a library function first (see each command's body for the one it calls).
User errors (GrefbenchError) and usage errors (an unknown command or option, a bad value) print one
line and exit with code 2; there is no traceback (see `main`, and docs/hostile-input.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from grefbench import usage
from grefbench.errors import GrefbenchError, UsageError
from grefbench.reports import (
    commands as report_commands,  # imports only typer and the errors
)

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=usage.CONTEXT_SETTINGS,
    help="grefbench: benchmark and evaluation toolkit for Generalized Referring Expression Segmentation.",
)


@app.callback(invoke_without_command=True)
def _root(
    context: typer.Context,
    version: bool = typer.Option(False, "--version", is_eager=True, help="Print the version and exit."),
) -> None:
    """grefbench: benchmark and evaluation toolkit for Generalized Referring Expression Segmentation."""
    if version:
        import grefbench

        print(f"grefbench {grefbench.__version__}")
        raise typer.Exit(0)
    usage.require_command(context)

# A command that finishes holding a large parsed dataset (score) parks its result here: the
# console script then ends the process without freeing it object by object (0.1-0.3 s).
_held_until_exit: object = None


def _resolve_root(dataset: str, data_root: Optional[Path]) -> Path:
    from grefbench.data.catalog import resolve_root

    return resolve_root(dataset, data_root)


@app.command()
def score(
    predictions: Path = typer.Argument(..., help="Prediction file (grefbench-predictions/1, .json or .json.gz)."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Dataset root (holds grefcoco/ and images/)."),
    dataset: Optional[str] = typer.Option(None, help="Dataset name; defaults to the file's 'dataset'."),
    split: Optional[str] = typer.Option(None, help="Split; defaults to the file's 'split'."),
    protocol: Optional[str] = typer.Option(None, help="native, rela480, refzom480 or rrefcoco480; defaults to the file's 'protocol'."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write metrics, breakdown and provenance here."),
    per_expression: Optional[Path] = typer.Option(None, "--per-expression", help="Per-sentence table (.csv or .parquet)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no table (for scripts)."),
    box_iou: Optional[str] = typer.Option(None, "--box-iou", help="Box files: giou (official, default) or iou."),
    score_threshold: Optional[float] = typer.Option(None, "--score-threshold",
                                                    help="Box files: keep boxes scoring at least this (official: 0.7)."),
) -> None:
    """Score a prediction file: masks (GRES, official ReLA semantics) or boxes (GREC, official gRefCOCO semantics)."""
    from grefbench import collector, console, parallel
    from grefbench.io.atomic import check_outputs, transaction
    from grefbench.io.boxes import FORMAT as BOX_FORMAT
    from grefbench.io.boxes import sniff_format
    from grefbench.io.tables import check_table_path, write_json, write_table

    if per_expression is not None:
        check_table_path(per_expression)
    check_outputs({"--json": json_out, "--per-expression": per_expression}, {"PREDICTIONS": predictions})
    if sniff_format(predictions) == BOX_FORMAT:
        _score_boxes(predictions, data_root, dataset, split, protocol, json_out, per_expression, quiet,
                     box_iou, score_threshold)
        return
    if box_iou is not None or score_threshold is not None:
        raise UsageError(f"{predictions}: --box-iou and --score-threshold apply to box files "
                         f"(format grefbench-boxes/1) only")
    from grefbench.scoring import score_file

    with transaction():  # a failed command (scoring, writing or display) leaves no output behind
        with collector.paused(freeze=True):  # a short-lived process that builds no cycles: no heap rescans
            with console.progress_bar("scoring", None, enabled=not quiet, unit="sentences") as advance:
                result = score_file(predictions, data_root, dataset, split, protocol=protocol,
                                    keep_per_sentence=per_expression is not None, progress=advance,
                                    jobs=parallel.default_jobs())
        if json_out is not None:
            write_json(json_out, result.to_json())
        if per_expression is not None:
            write_table(per_expression, result.per_sentence(), result.provenance)
        if not quiet:
            display = console.stderr if usage.writes_stdout(json_out, per_expression) else console.stdout
            if hasattr(result, "metric_names"):  # Ref-ZOM / R-RefCOCO*: their own metrics
                from grefbench.zero_target_scoring import metrics_table

                display.print(metrics_table(result))
            else:
                title = (f"{result.split.dataset} {result.split.split} · protocol {result.predictions.protocol} · "
                         f"{result.predictions.model['name']}")
                display.print(console.metrics_table(title, result.metrics, result.breakdown))
    global _held_until_exit
    _held_until_exit = result


def _score_boxes(predictions: Path, data_root: Optional[Path], dataset: Optional[str], split: Optional[str],
                 protocol: Optional[str], json_out: Optional[Path], per_expression: Optional[Path], quiet: bool,
                 box_iou: Optional[str], score_threshold: Optional[float]) -> None:
    """`score` for a box file (GREC): calls grefbench.grec_scoring.score_box_file."""
    from grefbench import console
    from grefbench.grec_scoring import score_box_file
    from grefbench.io.tables import write_json, write_table
    from grefbench.metrics.grec import GREC_METRIC_NAMES, SCORE_THRESHOLD

    if protocol is not None:
        raise UsageError(f"{predictions}: --protocol applies to mask files; boxes are in the original image's pixels")
    from grefbench import collector
    from grefbench.io.atomic import transaction

    with transaction():  # a failed command (scoring, writing or display) leaves no output behind
        with collector.paused(freeze=True):  # a short-lived process that builds no cycles: no heap rescans
            result = score_box_file(predictions, data_root, dataset, split, box_iou=box_iou or "giou",
                                    score_threshold=SCORE_THRESHOLD if score_threshold is None else score_threshold,
                                    keep_per_sentence=per_expression is not None)
        if json_out is not None:
            write_json(json_out, result.to_json())
        if per_expression is not None:
            write_table(per_expression, result.per_sentence(), result.provenance)
        if not quiet:
            options = result.provenance["grec_options"]
            label = " (boxes derived from masks)" if result.predictions.derived_from_masks else ""
            title = (f"GREC · {result.provenance['dataset']} {result.provenance['split']} · "
                     f"{result.predictions.model['name']}{label} · "
                     f"box IoU {options['box_iou']}, score >= {options['score_threshold']}"
                     f"{'' if options['official'] else ' (not the official setting)'}")
            display = console.stderr if usage.writes_stdout(json_out, per_expression) else console.stdout
            display.print(console.metrics_table(title, result.metrics, result.breakdown, GREC_METRIC_NAMES))
    global _held_until_exit
    _held_until_exit = result


@app.command()
def validate(
    path: Path = typer.Argument(..., help="A prediction file, or a submission folder."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Also check coverage and mask sizes against the split."),
    dataset: Optional[str] = typer.Option(None, help="Dataset name; defaults to the file's 'dataset'."),
    split: Optional[str] = typer.Option(None, help="Split; defaults to the file's 'split'."),
) -> None:
    """Check a prediction file strictly (format, types, RLE integrity; with --data-root, coverage and sizes)."""
    if path.is_dir():
        from grefbench.reports.commands import validate_folder

        validate_folder(path, data_root)
        return
    from grefbench import console
    from grefbench.data.catalog import default_root, get_dataset
    from grefbench.data.split import load_split
    from grefbench.io.boxes import FORMAT as BOX_FORMAT
    from grefbench.io.boxes import sniff_format
    from grefbench.io.predictions import check_against_split, read_predictions

    if sniff_format(path) == BOX_FORMAT:
        from grefbench.io.boxes import check_boxes_against_split, read_boxes

        boxes = read_boxes(path)
        root = data_root or default_root(dataset or boxes.dataset)
        checked = "format, types and box values"
        if root is not None:
            check_boxes_against_split(boxes, load_split(root, dataset or boxes.dataset, split or boxes.split))
            checked += f", coverage of {dataset or boxes.dataset} {split or boxes.split}"
        console.stdout.print(f"OK {path}: {len(boxes)} box predictions, {int(boxes.counts.sum())} boxes "
                             f"({boxes.dataset} {boxes.split}, model {boxes.model['name']!r}); checked {checked}.",
                             markup=False, highlight=False)
        return
    parsed = read_predictions(path)
    dataset = dataset or parsed.dataset
    split = split or parsed.split
    root = data_root or default_root(dataset)
    checked = "format, types and RLE"
    if root is not None and get_dataset(dataset).family != "refer":  # Ref-ZOM / R-RefCOCO*
        from grefbench.data.rrefcoco import load_zero_target_split
        from grefbench.zero_target_scoring import check_submission

        check_submission(parsed, load_zero_target_split(root, dataset, split))
        checked += f", coverage of {dataset} {split} and mask sizes"
    elif root is not None:
        check_against_split(parsed, load_split(root, dataset, split))
        checked += f", coverage of {dataset} {split} and mask sizes"
    console.say(f"OK {path}: {len(parsed)} predictions ({parsed.dataset} {parsed.split}, "
                f"protocol {parsed.protocol}, model {parsed.model['name']!r}); checked {checked}.")


@app.command()
def datasets() -> None:
    """List the datasets grefbench can load and their layouts."""
    from rich.table import Table

    from grefbench import console
    from grefbench.data.catalog import DATASETS

    table = Table(title="datasets", title_justify="left")
    for column in ("name", "splits", "layout", "description"):
        table.add_column(column)
    for spec in DATASETS.values():
        table.add_row(spec.name, ", ".join(spec.splits), spec.layout(), spec.description)
    console.stdout.print(table)


# Reports: analysis of one prediction file, comparison of two, the static leaderboard.
app.command("analyze")(report_commands.analyze)
app.command("compare")(report_commands.compare)
app.add_typer(report_commands.leaderboard_app, name="leaderboard")


@app.command("eval")
def eval_command(
    model: str = typer.Option("rela", "--model", help="Registered model name (see `grefbench models`)."),
    config: Optional[str] = typer.Option(None, "--config", help="Preset (see `grefbench models`) or official yaml."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Checkpoint (the family's official format)."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Dataset root (holds grefcoco/ and images/)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Default: grefcoco with --data-root, else grefshapes."),
    split: str = typer.Option("val", "--split"),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="rela480 (default, official) or native; "
                                           "refzom480 / rrefcoco480 (the default) for Ref-ZOM / R-RefCOCO*."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, "--batch-size"),
    workers: int = typer.Option(2, "--workers", help="DataLoader workers decoding images."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 or fp16 (autocast)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default runs/<model>-<dataset>-<split>-<protocol>)."),
    text_config: Optional[Path] = typer.Option(None, "--text-config", help="BERT config.json of the text encoder."),
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="Folder with vocab.txt (default: bundled bert-base-uncased)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads."),
    restart: bool = typer.Option(False, "--restart", help="Discard finished shards of a run with other settings."),
    shard_size: int = typer.Option(256, "--shard-size", help="Sentences per resumable shard."),
    min_area: int = typer.Option(0, "--min-area",
                                 help="Families without a no-target head: a mask of fewer pixels is no-target (0: empty)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Run a model over a split, write predictions, metrics and the per-sentence table, print the metrics.

    With no --weights and no --config, the family's shipped demo model runs (trained on gRefShapes);
    with no --data-root, the shipped gRefShapes splits are used.
    """
    from grefbench import console
    from grefbench.inference.runner import EvalOptions, run_eval

    if weights is None and config is None:
        from grefbench.models import demo_weights

        weights = demo_weights(model)
    dataset = dataset or ("grefcoco" if data_root is not None else "grefshapes")
    if protocol is None:
        from grefbench.data.catalog import get_dataset
        from grefbench.data.protocols import BENCHMARK_PROTOCOLS

        protocol = BENCHMARK_PROTOCOLS.get(get_dataset(dataset).family, "rela480")
    root = _resolve_root(dataset, data_root)
    out = out or Path("runs") / f"{model}-{dataset}-{split}-{protocol}"
    options = EvalOptions(data_root=root, dataset=dataset, split=split, out=out, model=model, config=config,
                          weights=weights, text_config=text_config, tokenizer=tokenizer, protocol=protocol,
                          device=device, batch_size=batch_size, workers=workers, precision=precision,
                          restart=restart, threads=threads, shard_size=shard_size, min_area=min_area)
    outputs = run_eval(options, progress=lambda what, total: console.progress_bar(
        what, total, enabled=not quiet, unit="sentences"))
    if outputs is None or quiet:
        return
    result = outputs.result
    title = f"{result.split.dataset} {result.split.split} · protocol {result.predictions.protocol} · {model}"
    if hasattr(result, "metric_names"):  # Ref-ZOM / R-RefCOCO*: their own metrics
        from grefbench.zero_target_scoring import metrics_table

        console.stdout.print(metrics_table(result))
    else:
        console.stdout.print(console.metrics_table(title, result.metrics, result.breakdown))
    console.say(f"data: {root} ({dataset} {split}); weights: {weights or '(none: random init)'}"
                f"{f'; config: {config}' if config else ''}")
    console.say(f"wrote {outputs.predictions}, {outputs.metrics}, {outputs.per_sentence}, "
                f"{outputs.predictions.with_name('boxes.json.gz')} (GREC boxes derived from masks) "
                f"({outputs.sentences_computed} sentences computed in {outputs.seconds:.1f} s)")


@app.command("boxes")
def boxes_command(
    predictions: Path = typer.Argument(..., help="Mask prediction file (grefbench-predictions/1)."),
    out: Path = typer.Option(..., "--out", help="Box file to write (grefbench-boxes/1; .json or .json.gz)."),
    data_root: Optional[Path] = typer.Option(None, "--data-root",
                                             help="Dataset root: image sizes for masks not at the image's size."),
    min_area: int = typer.Option(16, "--min-area", help="Drop connected components smaller than this (mask pixels)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Derive a GREC box file from a mask prediction file: one box per 8-connected component (docs/grec.md)."""
    from grefbench import console
    from grefbench.boxes_from_masks import derive_box_file
    from grefbench.io.atomic import check_outputs, transaction

    check_outputs({"--out": out}, {"PREDICTIONS": predictions})
    with transaction():  # a failed command leaves no output behind
        with console.progress_bar("boxes", None, enabled=not quiet, unit="sentences") as advance:
            written = derive_box_file(predictions, out, data_root, min_area=min_area, progress=advance)
    if not quiet:
        console.say(f"wrote {written} (boxes derived from masks)")


@app.command()
def models() -> None:
    """List the registered model families: presets, no-target rule, shipped demo weights."""
    from rich.table import Table

    from grefbench import console
    from grefbench.models import MODELS

    table = Table(title="models", title_justify="left")
    for column in ("name", "presets", "no-target", "demo weights", "summary"):
        table.add_column(column)
    for family in MODELS.values():
        table.add_row(family.name, ", ".join(family.presets), "head" if family.no_target_head else "empty mask",
                      family.demo_weights or "-", family.summary)
    console.stdout.print(table)


@app.command("train")
def train_command(
    config: str = typer.Option(..., "--config", help="Preset (e.g. rela_tiny, lavt_tiny) or official yaml."),
    overrides: list[str] = typer.Option([], "--set", help="Config override KEY=VALUE (detectron2 keys); repeatable."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Dataset root (holds grefcoco/ and images/)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Default: grefcoco with --data-root, else grefshapes."),
    split: str = typer.Option("train", "--split"),
    val_split: Optional[str] = typer.Option("val", "--val-split", help="Validated periodically; '' for none."),
    out: Path = typer.Option(..., "--out", help="Output folder (checkpoints, logs, model_final.pth)."),
    model: str = typer.Option("rela", "--model", help="Registered model family (see `grefbench models`)."),
    init_weights: Optional[Path] = typer.Option(None, "--init-weights", help="Start from these weights."),
    text_weights: Optional[str] = typer.Option(None, "--text-weights", help="Packaged pretrained text encoder (minilm-l6)."),
    freeze_text: bool = typer.Option(False, "--freeze-text", help="Keep the text encoder fixed."),
    group_by_image: int = typer.Option(1, "--group-by-image",
                                       help="Put up to N sentences of one image next to each other in a batch."),
    steps: int = typer.Option(1000, "--steps"),
    batch_size: int = typer.Option(8, "--batch-size", help="Per process."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Default: the family's official value (rela 1e-4)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="Default: the family's (rela 0.05)."),
    warmup: Optional[int] = typer.Option(None, "--warmup", help="Default: the family's (rela 100)."),
    decay: Optional[str] = typer.Option(None, "--decay", help="cosine, poly or constant; default: the family's."),
    lr_floor: Optional[float] = typer.Option(None, "--lr-floor",
                                             help="Decay ends at lr x this; default: the family's (rela 0.01)."),
    clip: Optional[float] = typer.Option(None, "--clip", help="Gradient-norm clipping (0: off); default: the family's."),
    dice_weight: Optional[float] = typer.Option(
        None, "--dice-weight", help="rela: add a soft Dice term (not in the official loss; default 0)."),
    category_weight: Optional[float] = typer.Option(
        None, "--category-weight",
        help="rela: train the auxiliary category head (needs --set GREFBENCH.CATEGORY_CLASSES=N; not official)."),
    no_target_weight: Optional[float] = typer.Option(
        None, "--no-target-weight", help="rela: factor of the no-target cross-entropy (official: 0.1)."),
    backbone_lr_multiplier: float = typer.Option(1.0, "--backbone-lr-multiplier"),
    precision: str = typer.Option("fp32", "--precision", help="fp32, bf16 or fp16 (AMP on CUDA)."),
    device: str = typer.Option("auto", "--device"),
    workers: int = typer.Option(2, "--workers"),
    seed: int = typer.Option(0, "--seed"),
    log_every: int = typer.Option(20, "--log-every"),
    eval_every: int = typer.Option(500, "--eval-every", help="Steps between validations (0: only at the end)."),
    eval_limit: int = typer.Option(300, "--eval-limit", help="Sentences scored per periodic validation."),
    checkpoint_every: int = typer.Option(200, "--checkpoint-every"),
    threads: Optional[int] = typer.Option(None, "--threads"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train a model family (AdamW, warm-up + decay, clipping, the family's official loss); resumes from OUT/checkpoints."""
    from grefbench import console
    from grefbench.training.loop import TrainOptions, train

    dataset = dataset or ("grefcoco" if data_root is not None else "grefshapes")
    if data_root is None:
        raise UsageError("--data-root is required (the shipped gRefShapes has no train split; make one with "
                         "`grefbench data synth --out DIR`)")
    options = TrainOptions(
        data_root=data_root, dataset=dataset, out=out, config=config, config_overrides=tuple(overrides),
        split=split, val_split=val_split or None,
        model=model, text_weights=text_weights, freeze_text=freeze_text, group_by_image=group_by_image,
        init_weights=init_weights, steps=steps, dice_weight=dice_weight, category_weight=category_weight,
        no_target_weight=no_target_weight, batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warmup,
        decay=decay, lr_floor=lr_floor, clip=clip,
        backbone_lr_multiplier=backbone_lr_multiplier, precision=precision, device=device, workers=workers,
        seed=seed, log_every=log_every, eval_every=eval_every, eval_limit=eval_limit,
        checkpoint_every=checkpoint_every, threads=threads,
    )
    final = train(options, progress=lambda what, total: console.progress_bar(what, total, enabled=not quiet,
                                                                            unit="steps"))
    if final is not None and not quiet:
        console.say(f"wrote {final} and the training log in {out}")


kernels_app = typer.Typer(context_settings=usage.CONTEXT_SETTINGS, callback=usage.require_command,
                          invoke_without_command=True, help="The compiled multi-scale deformable attention kernels.")
app.add_typer(kernels_app, name="kernels")


@kernels_app.command("build")
def kernels_build(verbose: bool = typer.Option(False, "--verbose")) -> None:
    """Compile (or find in the cache) the C++/CUDA kernels for this machine; say where they are."""
    from grefbench import console
    from grefbench.ops.build import available_backends, build_kernels

    result = build_kernels(verbose=verbose)
    how = "compiled" if result.compiled else "found in the cache"
    console.stdout.print(f"{result.device} kernels {how} in {result.seconds:.1f} s: {result.library}\n"
                         f"backends available: {', '.join(available_backends())}", markup=False, highlight=False)


data_app = typer.Typer(context_settings=usage.CONTEXT_SETTINGS, callback=usage.require_command,
                       invoke_without_command=True, help="Datasets: generate the gRefShapes benchmark.")
app.add_typer(data_app, name="data")


@data_app.command("synth")
def data_synth(
    out: Path = typer.Option(..., "--out", help="Data root to write (grefcoco/ and images/train2014/ go inside)."),
    images: int = typer.Option(1000, "--images", help="Images in train."),
    eval_images: int = typer.Option(200, "--eval-images", help="Images in each of val, testA and testB."),
    seed: int = typer.Option(0, "--seed"),
    splits: str = typer.Option("train,val,testA,testB", help="Comma-separated splits to write."),
    image_size: int = typer.Option(256, "--image-size"),
    jpeg_quality: Optional[int] = typer.Option(None, "--jpeg-quality", help="Default: the shipped data's quality."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Generate gRefShapes (a procedural GRES benchmark in the gRefCOCO layout), deterministically."""
    import json

    from grefbench import console
    from grefbench.data.synth import DEFAULT_JPEG_QUALITY, generate

    chosen = [s for s in splits.split(",") if s]
    total = sum(images if s == "train" else eval_images for s in chosen)
    with console.progress_bar("generating", total, enabled=not quiet, unit="images") as advance:
        summary = generate(out, train_images=images, eval_images=eval_images, seed=seed, splits=chosen,
                           image_size=image_size, jpeg_quality=jpeg_quality or DEFAULT_JPEG_QUALITY,
                           progress=lambda split, done, split_total: advance(1))
    if not quiet:
        console.stdout.print_json(json.dumps(summary))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `grefbench` console script: one line on stderr for every error, no traceback.

    Exit codes: 0 success, 2 a user or usage error (and a resource the input exhausted: memory,
    disk), 130 interrupted, 1 an internal error (a bug: GREFBENCH_TRACEBACK=1 shows where).
    """
    global _held_until_exit
    from grefbench import console

    try:
        result = app(args=argv, prog_name="grefbench", standalone_mode=False)
    except GrefbenchError as error:
        console.error(str(error))
        sys.exit(error.exit_code)
    except usage.USAGE_ERRORS as error:
        console.error(usage.describe(error, app))
        sys.exit(2)
    except (*usage.ABORTS, KeyboardInterrupt):
        console.error("interrupted")
        sys.exit(130)
    except BaseException as error:  # noqa: BLE001 - the last line of defence: never a traceback
        code = usage.unexpected(error)
        if code is None:
            raise
        sys.exit(code)
    if argv is not None:  # called as a function (tests, scripts): let the result go
        _held_until_exit = None
    if isinstance(result, int) and result:
        sys.exit(result)
    if argv is None and _held_until_exit is not None:
        # Outputs are written and closed; the process is ending anyway.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
