"""Plain documents of a GREC box analysis and comparison, and what shows them: terminal tables and HTML pages.

As for masks (`reports/documents.py`), one document feeds every display, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from grefbench.console import metrics_table, plain
from grefbench.metrics.grec import GREC_METRIC_NAMES, GREC_OUTCOME_NAMES
from grefbench.reports.box_analysis import BOX_BREAKDOWN_TITLES, BOX_DEFINITIONS, BoxAnalysis
from grefbench.reports.box_compare import BoxComparison
from grefbench.reports.box_gallery import box_class_gallery, box_gallery_item
from grefbench.reports.display import _breakdown, _cell
from grefbench.reports.documents import _records, clean

BOX_ANALYSIS_FORMAT = "grefbench-box-analysis/1"
BOX_COMPARISON_FORMAT = "grefbench-box-comparison/1"
TABLE_METRICS = tuple(name for name in GREC_METRIC_NAMES if name != "num_expressions")


def box_analysis_document(analysis: BoxAnalysis, *, gallery_per_class: int = 4) -> dict[str, Any]:
    """Metrics, failure classes, breakdowns and gallery of one box analysis."""
    result = analysis.result
    predictions = analysis.predictions
    return clean({
        "format": BOX_ANALYSIS_FORMAT,
        "task": "GREC",
        "dataset": analysis.split.dataset,
        "split": analysis.split.split,
        "model": dict(predictions.model),
        "derived_from_masks": predictions.derived_from_masks,
        "options": result.provenance["grec_options"],
        "metrics": result.metrics,
        "counts": result.counts,
        "breakdown": result.breakdown,
        "classes": _records(analysis.class_counts()),
        "breakdowns": {key: {"title": BOX_BREAKDOWN_TITLES[key], "rows": _records(table)}
                       for key, table in analysis.breakdowns.items()},
        "gallery": box_class_gallery(analysis, gallery_per_class) if gallery_per_class > 0 else {},
        "provenance": result.provenance,
    })


def box_comparison_document(comparison: BoxComparison, *, gallery_size: int = 8) -> dict[str, Any]:
    """Deltas with intervals, verdict, wins per class and the largest disagreements of a box comparison."""
    a, b = comparison.a, comparison.b
    name_a, name_b = comparison.names
    items = []
    for sent_id in (comparison.largest_disagreements(gallery_size)["sent_id"].tolist() if gallery_size > 0 else []):
        row = a.split.position[int(sent_id)]
        item = box_gallery_item(a, row, others=[(b, "B")])
        item.update(f1_a=float(a.frame["F1"].iat[row]), f1_b=float(b.frame["F1"].iat[row]),
                    class_a=str(a.frame["failure_class"].iat[row]), class_b=str(b.frame["failure_class"].iat[row]))
        items.append(item)
    return clean({
        "format": BOX_COMPARISON_FORMAT,
        "task": "GREC",
        "dataset": a.split.dataset,
        "split": a.split.split,
        "options": a.result.provenance["grec_options"],
        "a": {"name": name_a, "file": str(a.predictions.path), "derived_from_masks": a.predictions.derived_from_masks},
        "b": {"name": name_b, "file": str(b.predictions.path), "derived_from_masks": b.predictions.derived_from_masks},
        "verdict": comparison.verdict,
        "bootstrap": {"images": comparison.bootstrap.images, "resamples": comparison.bootstrap.resamples,
                      "seed": comparison.bootstrap.seed, "confidence": comparison.bootstrap.confidence},
        "deltas": comparison.bootstrap.rows(),
        "win_loss": _records(comparison.win_loss),
        "transitions": {"classes": list(GREC_OUTCOME_NAMES), "counts": comparison.transitions.to_numpy().tolist()},
        "definitions": BOX_DEFINITIONS,
        "gallery": items,
        "provenance": a.result.provenance,
    })


def _name(model: dict[str, Any], derived: bool) -> str:
    return f"{model['name']} (boxes derived from masks)" if derived else model["name"]


def print_box_analysis(document: dict[str, Any], console: Console) -> None:
    """Metrics, failure classes and every breakdown of a box analysis document."""
    title = (f"GREC · {document['dataset']} {document['split']} · "
             f"{_name(document['model'], document['derived_from_masks'])}")
    console.print(metrics_table(title, document["metrics"], document["breakdown"], GREC_METRIC_NAMES))
    classes = Table(title="failure classes (GREC outcome of each sentence)", title_justify="left")
    for column, justify in (("class", "left"), ("sentences", "right"), ("%", "right"), ("rule", "left")):
        classes.add_column(column, justify=justify)
    for row in document["classes"]:
        classes.add_row(row["failure_class"], str(row["count"]), _cell(row["percent"], 1), row["definition"])
    console.print(classes)
    for table in document["breakdowns"].values():
        console.print(_breakdown(table["title"], table["rows"], GREC_METRIC_NAMES))


def print_box_comparison(document: dict[str, Any], console: Console) -> None:
    """Verdict, deltas with intervals, and wins per failure class of a box comparison document."""
    for key in ("a", "b"):
        side = document[key]
        label = " (boxes derived from masks)" if side["derived_from_masks"] else ""
        console.print(plain(f"{key.upper()} = {side['name']}{label}  ({side['file']})", limit=None))
    deltas = Table(title=plain(f"GREC · {document['dataset']} {document['split']}: B - A"), title_justify="left")
    for column in ("metric", "A", "B", "B - A", "95% interval"):
        deltas.add_column(column, justify="left" if column == "metric" else "right")
    for row in document["deltas"]:
        interval = "—" if row["low"] is None else f"[{row['low']:+.2f}, {row['high']:+.2f}]"
        delta = "—" if row["delta"] is None else f"{row['delta']:+.2f}"
        deltas.add_row(plain(row["metric"]), _cell(row["a"]), _cell(row["b"]), delta, interval)
    console.print(deltas)
    wins = Table(title="per-sentence F1: B wins / loses / ties, by failure class of A", title_justify="left")
    for column in ("class of A", "sentences", "B wins", "B loses", "ties"):
        wins.add_column(column, justify="left" if column == "class of A" else "right")
    for row in document["win_loss"]:
        wins.add_row(row["class_a"], str(row["sentences"]), str(row["wins_b"]), str(row["losses_b"]), str(row["ties"]))
    console.print(wins)
    console.print(plain(document["verdict"], limit=None, style="bold"))


def box_analysis_page(document: dict[str, Any]) -> str:
    """A standalone page for one box analysis document."""
    from grefbench.reports.html import render

    title = f"{document['model']['name']} · GREC · {document['dataset']} {document['split']}"
    return render("box_analysis.html", doc=document, title=title, table_metrics=TABLE_METRICS)


def box_comparison_page(document: dict[str, Any]) -> str:
    """A standalone page for one box comparison document."""
    from grefbench.reports.html import render

    return render("box_compare.html", doc=document, title=f"{document['a']['name']} vs {document['b']['name']} · GREC")
