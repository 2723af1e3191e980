"""Run the reports commands as the `grefbench` console script does (one error line, exit code 2)."""

from __future__ import annotations

import typer

from grefbench import console
from grefbench.errors import GrefbenchError
from grefbench.reports import commands


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    app.command("analyze")(commands.analyze)
    app.command("compare")(commands.compare)
    app.command("validate")(commands.validate_folder)
    app.add_typer(commands.leaderboard_app, name="leaderboard")
    return app


def run(args: list[str]) -> int:
    """The exit code of `grefbench ARGS` for the reports commands (output goes to the captured streams)."""
    try:
        _app()(args=[str(a) for a in args], prog_name="grefbench", standalone_mode=False)
    except GrefbenchError as error:
        console.error(str(error))
        return error.exit_code
    return 0
