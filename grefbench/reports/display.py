"""Terminal summaries (rich) of the analysis and comparison documents: display only, no logic."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from grefbench.console import metrics_table, plain
from grefbench.metrics.evaluator import METRIC_NAMES

TERMINAL_ROWS = 15


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _breakdown(title: str, rows: list[dict[str, Any]], names: tuple[str, ...] = METRIC_NAMES) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("group", style="bold")
    for name in names:
        table.add_column(plain(name) if name != "num_expressions" else "#expr", justify="right")
    for row in rows[:TERMINAL_ROWS]:
        table.add_row(plain(row["group"]), *(_cell(row.get(name)) for name in names))
    if len(rows) > TERMINAL_ROWS:
        table.caption = f"{len(rows) - TERMINAL_ROWS} more rows in the HTML and CSV outputs"
    return table


def print_analysis(document: dict[str, Any], console: Console) -> None:
    """Metrics, failure classes and every breakdown of an analysis document."""
    title = (f"{document['dataset']} {document['split']} · protocol {document['protocol']} · "
             f"{document['model']['name']}")
    console.print(metrics_table(title, document["metrics"], document["breakdown"]))
    classes = Table(title="failure classes (first rule that holds, in this order)", title_justify="left")
    for column, justify in (("class", "left"), ("sentences", "right"), ("%", "right"), ("rule", "left")):
        classes.add_column(column, justify=justify)
    for row in document["classes"]:
        classes.add_row(row["failure_class"], str(row["count"]), _cell(row["percent"], 1), row["definition"])
    console.print(classes)
    for table in document["breakdowns"].values():
        console.print(_breakdown(table["title"], table["rows"]))


def print_comparison(document: dict[str, Any], console: Console) -> None:
    """Verdict, deltas with intervals, and wins per failure class of a comparison document."""
    console.print(plain(f"A = {document['a']['name']}  ({document['a']['file']})", limit=None))
    console.print(plain(f"B = {document['b']['name']}  ({document['b']['file']})", limit=None))
    deltas = Table(title=plain(f"{document['dataset']} {document['split']} · protocol {document['protocol']}: B - A"),
                   title_justify="left")
    for column in ("metric", "A", "B", "B - A", "95% interval"):
        deltas.add_column(column, justify="left" if column == "metric" else "right")
    for row in document["deltas"]:
        interval = "—" if row["low"] is None else f"[{row['low']:+.2f}, {row['high']:+.2f}]"
        delta = "—" if row["delta"] is None else f"{row['delta']:+.2f}"
        deltas.add_row(row["metric"], _cell(row["a"]), _cell(row["b"]), delta, interval)
    console.print(deltas)
    wins = Table(title="per-sentence IoU: B wins / loses / ties, by failure class of A", title_justify="left")
    for column in ("class of A", "sentences", "B wins", "B loses", "ties"):
        wins.add_column(column, justify="left" if column == "class of A" else "right")
    for row in document["win_loss"]:
        wins.add_row(row["class_a"], str(row["sentences"]), str(row["wins_b"]), str(row["losses_b"]), str(row["ties"]))
    console.print(wins)
    console.print(plain(document["verdict"], limit=None, style="bold"))
