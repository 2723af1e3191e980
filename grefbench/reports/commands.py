"""Typer commands of the reports: thin wrappers over the library functions (registered by grefbench/cli.py).

    grefbench analyze PRED [--data-root ROOT] [--split S] [--html OUT.html] [--csv OUT.csv]
    grefbench compare A B [--data-root ROOT] [--split S] [--html OUT.html] [--csv OUT.csv]
    grefbench leaderboard build [--submissions submissions/] [--out leaderboard/] [--data-root ROOT]
    grefbench validate FOLDER     (validate_folder, called by `validate` for a folder)

User errors are GrefbenchErrors (one line, exit code 2). Outputs are written only after all the
work succeeded, each atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from grefbench import usage
from grefbench.errors import UsageError

leaderboard_app = typer.Typer(context_settings=usage.CONTEXT_SETTINGS, callback=usage.require_command,
                              invoke_without_command=True, help="The static leaderboard site built from submissions/.")


def _root(dataset: str, data_root: Optional[Path]) -> Path:
    from grefbench.data.catalog import resolve_root

    return resolve_root(dataset, data_root)


def _zero_target(dataset: str) -> bool:
    """Ref-ZOM and R-RefCOCO* are analysed with their own metrics (grefbench.reports.zero_target)."""
    from grefbench.data.catalog import get_dataset

    return get_dataset(dataset).family != "refer"


def _check_suffix(path: Optional[Path], suffix: str, option: str) -> None:
    if path is not None and path.suffix.lower() != suffix:
        raise UsageError(f"{option} {path}: expected a {suffix} file name")


def _display(*outputs: Optional[Path]):
    """The console for the terminal summary: stderr when an output goes to stdout (`-`)."""
    from grefbench import console

    return console.stderr if usage.writes_stdout(*outputs) else console.stdout


def _breakdowns_path(csv_path: Path) -> Path:
    return csv_path.with_name(f"{csv_path.stem}-breakdowns.csv")


def analyze(
    predictions: Path = typer.Argument(..., help="Prediction file (grefbench-predictions/1) or box file (grefbench-boxes/1)."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Dataset root; default: the shipped gRefShapes."),
    dataset: Optional[str] = typer.Option(None, help="Dataset; defaults to the file's 'dataset'."),
    split: Optional[str] = typer.Option(None, help="Split; defaults to the file's 'split'."),
    html_out: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Per-sentence CSV here (+ <name>-breakdowns.csv)."),
    gallery: int = typer.Option(4, "--gallery", min=0, help="Worst sentences shown per failure class."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No terminal summary."),
) -> None:
    """Classify every sentence's failure and break the metrics down by target, length, cue, size, category."""
    from grefbench import console
    from grefbench.data.split import load_split
    from grefbench.io.atomic import write_text
    from grefbench.io.predictions import read_predictions
    from grefbench.io.tables import write_table
    from grefbench.reports import display
    from grefbench.reports.analysis import analyze_predictions, breakdown_frame
    from grefbench.reports.documents import analysis_document
    from grefbench.io.atomic import check_outputs, transaction
    from grefbench.reports.html import analysis_page

    _check_suffix(html_out, ".html", "--html")
    _check_suffix(csv_out, ".csv", "--csv")
    check_outputs({"--html": html_out, "--csv": csv_out,
                   "the breakdowns CSV": None if csv_out is None else _breakdowns_path(csv_out)},
                  {"PREDICTIONS": predictions})
    with transaction():  # a failed command leaves no output behind
        if _is_box_file(predictions):
            _analyze_boxes(predictions, data_root, dataset, split, html_out, csv_out, gallery, quiet)
            return
        parsed = read_predictions(predictions)
        dataset = dataset or parsed.dataset
        if _zero_target(dataset):
            from grefbench.reports.zero_target import analyze_command

            return analyze_command(predictions, data_root, dataset, split, html_out, csv_out, quiet)
        loaded = load_split(_root(dataset, data_root), dataset, split or parsed.split)
        with console.progress_bar("analyzing", None, enabled=not quiet, unit="sentences") as advance:
            result = analyze_predictions(parsed, loaded, progress=advance)
        document = analysis_document(result, gallery_per_class=gallery if html_out is not None else 0,
                                     with_plots=html_out is not None)
        page = analysis_page(document) if html_out is not None else None
        if csv_out is not None:
            write_table(csv_out, result.frame, result.result.provenance)
            write_table(_breakdowns_path(csv_out), breakdown_frame(result), result.result.provenance)
        if page is not None:
            write_text(html_out, page)
        if not quiet:
            display.print_analysis(document, _display(html_out, csv_out))


def compare(
    first: Path = typer.Argument(..., metavar="A", help="Prediction file of model A."),
    second: Path = typer.Argument(..., metavar="B", help="Prediction file of model B."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Dataset root; default: the shipped gRefShapes."),
    dataset: Optional[str] = typer.Option(None, help="Dataset; defaults to A's 'dataset'."),
    split: Optional[str] = typer.Option(None, help="Split; defaults to A's 'split'."),
    resamples: int = typer.Option(1000, "--resamples", min=1, help="Bootstrap resamples of the images."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    html_out: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Paired per-sentence CSV here."),
    gallery: int = typer.Option(8, "--gallery", min=0, help="Largest disagreements shown."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the verdict."),
) -> None:
    """A vs B: metric deltas with paired bootstrap 95% intervals over images, wins per class, a verdict."""
    from grefbench import console
    from grefbench.data.split import load_split
    from grefbench.io.atomic import write_text
    from grefbench.io.predictions import read_predictions
    from grefbench.io.tables import write_table
    from grefbench.reports import display
    from grefbench.reports.analysis import analyze_predictions
    from grefbench.reports.compare import compare_analyses
    from grefbench.reports.documents import comparison_document
    from grefbench.io.atomic import check_outputs, transaction
    from grefbench.reports.html import comparison_page

    _check_suffix(html_out, ".html", "--html")
    _check_suffix(csv_out, ".csv", "--csv")
    check_outputs({"--html": html_out, "--csv": csv_out}, {"A": first, "B": second})
    with transaction():  # a failed command leaves no output behind
        if _is_box_file(first) or _is_box_file(second):
            _compare_boxes(first, second, data_root, dataset, split, resamples, seed, html_out, csv_out, gallery,
                           quiet)
            return
        model_a, model_b = read_predictions(first), read_predictions(second)
        dataset = dataset or model_a.dataset
        if _zero_target(dataset):
            from grefbench.reports.zero_target import compare_command

            return compare_command(first, second, data_root, dataset, split, resamples, seed, html_out, csv_out,
                                   quiet)
        loaded = load_split(_root(dataset, data_root), dataset, split or model_a.split)
        comparison = compare_analyses(analyze_predictions(model_a, loaded), analyze_predictions(model_b, loaded),
                                      resamples=resamples, seed=seed)
        document = comparison_document(comparison, gallery_size=gallery if html_out is not None else 0)
        page = comparison_page(document) if html_out is not None else None
        if csv_out is not None:
            provenance = {**comparison.a.result.provenance, "predictions_file_b": str(second),
                          "model_b": model_b.model}
            write_table(csv_out, comparison.paired, provenance)
        if page is not None:
            write_text(html_out, page)
        if quiet:
            _display(html_out, csv_out).print(console.plain(document["verdict"], limit=None))
        else:
            display.print_comparison(document, _display(html_out, csv_out))


def _is_box_file(path: Path) -> bool:
    from grefbench.io.boxes import FORMAT, sniff_format

    return sniff_format(path) == FORMAT


def _analyze_boxes(path: Path, data_root: Optional[Path], dataset: Optional[str], split: Optional[str],
                   html_out: Optional[Path], csv_out: Optional[Path], gallery: int, quiet: bool) -> None:
    """`analyze` for a GREC box file: calls grefbench.reports.box_analysis.analyze_boxes."""
    from grefbench.data.split import load_split
    from grefbench.io.atomic import write_text
    from grefbench.io.boxes import read_boxes
    from grefbench.io.tables import write_table
    from grefbench.reports.box_analysis import analyze_boxes, box_breakdown_frame
    from grefbench.reports.box_documents import box_analysis_document, box_analysis_page, print_box_analysis

    boxes = read_boxes(path)
    dataset = dataset or boxes.dataset
    loaded = load_split(_root(dataset, data_root), dataset, split or boxes.split)
    result = analyze_boxes(boxes, loaded)
    document = box_analysis_document(result, gallery_per_class=gallery if html_out is not None else 0)
    page = box_analysis_page(document) if html_out is not None else None
    if csv_out is not None:
        write_table(csv_out, result.frame, result.result.provenance)
        write_table(_breakdowns_path(csv_out), box_breakdown_frame(result), result.result.provenance)
    if page is not None:
        write_text(html_out, page)
    if not quiet:
        print_box_analysis(document, _display(html_out, csv_out))


def _compare_boxes(first: Path, second: Path, data_root: Optional[Path], dataset: Optional[str],
                   split: Optional[str], resamples: int, seed: int, html_out: Optional[Path],
                   csv_out: Optional[Path], gallery: int, quiet: bool) -> None:
    """`compare` for two GREC box files: calls grefbench.reports.box_compare.compare_box_analyses."""
    from grefbench import console
    from grefbench.data.split import load_split
    from grefbench.io.atomic import write_text
    from grefbench.io.boxes import read_boxes
    from grefbench.io.tables import write_table
    from grefbench.reports.box_analysis import analyze_boxes
    from grefbench.reports.box_compare import compare_box_analyses
    from grefbench.reports.box_documents import box_comparison_document, box_comparison_page, print_box_comparison

    if not (_is_box_file(first) and _is_box_file(second)):
        raise UsageError(f"cannot compare {first} and {second}: one is a box file (grefbench-boxes/1), the other not; "
                         "derive boxes from the mask file with `grefbench boxes` first")
    boxes_a, boxes_b = read_boxes(first), read_boxes(second)
    dataset = dataset or boxes_a.dataset
    loaded = load_split(_root(dataset, data_root), dataset, split or boxes_a.split)
    comparison = compare_box_analyses(analyze_boxes(boxes_a, loaded), analyze_boxes(boxes_b, loaded),
                                      resamples=resamples, seed=seed)
    document = box_comparison_document(comparison, gallery_size=gallery if html_out is not None else 0)
    page = box_comparison_page(document) if html_out is not None else None
    if csv_out is not None:
        provenance = {**comparison.a.result.provenance, "predictions_file_b": str(second), "model_b": boxes_b.model}
        write_table(csv_out, comparison.paired, provenance)
    if page is not None:
        write_text(html_out, page)
    if quiet:
        _display(html_out, csv_out).print(console.plain(document["verdict"], limit=None))
    else:
        print_box_comparison(document, _display(html_out, csv_out))


@leaderboard_app.command("build")
def leaderboard_build(
    submissions: Path = typer.Option(Path("submissions"), "--submissions", help="Folder of submission folders."),
    out: Path = typer.Option(Path("leaderboard"), "--out", help="Where the site is written."),
    data_root: Optional[Path] = typer.Option(None, "--data-root",
                                             help="Root of gRefCOCO/RefCOCO data (gRefShapes uses the shipped copy)."),
    gallery: int = typer.Option(4, "--gallery", min=0, help="Worst sentences shown per failure class."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Build the static leaderboard (index + a page per submission); re-scores only what changed."""
    from grefbench import console
    from grefbench.io.atomic import transaction
    from grefbench.reports.leaderboard import build_leaderboard

    with transaction():  # a failed build leaves the site as it was
        report = build_leaderboard(submissions, out, data_root=data_root, gallery_per_class=gallery,
                                   progress=None if quiet else (lambda message: console.say(message, stream="stderr")))
        for warning in report.warnings:
            console.warning(warning)
        if not quiet:
            console.say(f"Built {out / 'index.html'}: {report.submissions} submissions, {report.tables} tables, "
                        f"{len(report.scored)} prediction files scored, {len(report.reused)} reused, "
                        f"{report.reported_rows} reported rows, in {report.seconds:.1f} s")


def validate_folder(folder: Path, data_root: Optional[Path] = None) -> None:
    """Check a submission folder strictly and print what was checked (used by `grefbench validate FOLDER`)."""
    from grefbench import console
    from grefbench.reports.submissions import validate_submission

    submission, checked = validate_submission(folder, data_root)
    console.say(f"OK {folder}: submission {submission.name!r}")
    for line in checked:
        console.say(f"  {line}")
