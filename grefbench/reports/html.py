"""HTML rendering with jinja2 (autoescape on): analysis, comparison, leaderboard index and submission pages.

Pages are self-contained: inline CSS, one small inline sorting script, inline SVG plots and data-URI
thumbnails. A Content-Security-Policy meta tag forbids every fetch except data: images and allows
only that exact script (by its SHA-256), so a page cannot reach the network even if it tried.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path
from typing import Any

from markupsafe import Markup

from grefbench.metrics.evaluator import METRIC_NAMES
from grefbench.reports.submissions import safe_link

TEMPLATES = Path(__file__).parent / "templates"
TABLE_METRICS = tuple(name for name in METRIC_NAMES if name != "num_expressions")


def _format_metric(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _signed(value: Any) -> str:
    return "—" if value is None else f"{value:+.2f}"


def _svg(markup: str | None) -> Markup:
    # Our own matplotlib output: text in it is XML-escaped by matplotlib.
    return Markup(markup or "")


@functools.lru_cache(maxsize=1)
def sort_script() -> str:
    return (TEMPLATES / "sort.js").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(metric=_format_metric, signed=_signed, svg=_svg, link=safe_link)
    script = sort_script()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    environment.globals.update(
        table_metrics=TABLE_METRICS,
        sort_script=Markup(script),
        content_security_policy=(f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                                 f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"),
    )
    return environment


def render(template: str, **context: Any) -> str:
    """Render one of the package's templates."""
    return _environment().get_template(template).render(**context)


def analysis_page(document: dict[str, Any]) -> str:
    """A standalone page for one analysis document."""
    return render("analysis.html", doc=document, title=f"{document['model']['name']} · {document['dataset']} "
                                                         f"{document['split']}")


def comparison_page(document: dict[str, Any]) -> str:
    """A standalone page for one comparison document."""
    return render("compare.html", doc=document, title=f"{document['a']['name']} vs {document['b']['name']}")
