"""The training log: one row per logged step (CSV and JSON with provenance) and the loss curve plot."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from grefbench.io.atomic import write_text


class TrainingLog:
    """Rows of {step, loss, lr, ...} plus validation metrics; rewritten atomically on every save."""

    def __init__(self, out_dir: Path, provenance: dict[str, Any], rows: list[dict[str, Any]] | None = None):
        self.out_dir = Path(out_dir)
        self.provenance = provenance
        self.rows: list[dict[str, Any]] = list(rows or [])

    @classmethod
    def resume(cls, out_dir: Path, provenance: dict[str, Any], up_to_step: int) -> TrainingLog:
        """Reload the rows written before a checkpoint at `up_to_step` (later rows are dropped)."""
        path = Path(out_dir) / "training_log.json"
        rows: list[dict[str, Any]] = []
        if path.is_file():
            try:
                rows = [r for r in json.loads(path.read_text())["rows"] if r["step"] <= up_to_step]
            except (OSError, ValueError, KeyError, TypeError):
                rows = []
        return cls(out_dir, provenance, rows)

    def add(self, **row: Any) -> None:
        self.rows.append(row)

    def save(self) -> None:
        columns: list[str] = []
        for row in self.rows:
            columns.extend(k for k in row if k not in columns)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(self.out_dir / "training_log.csv", buffer.getvalue())
        write_text(self.out_dir / "training_log.json",
                   json.dumps({"provenance": self.provenance, "rows": self.rows}, indent=1, allow_nan=False))
        self._plot()

    def _plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        losses = [(r["step"], r["loss"]) for r in self.rows if r.get("loss") is not None]
        scored = [(r["step"], r["val_gIoU"], r.get("val_cIoU")) for r in self.rows if r.get("val_gIoU") is not None]
        if not losses:
            return
        figure, axis = plt.subplots(figsize=(7, 4))
        axis.plot(*zip(*losses), color="tab:blue", linewidth=1, label="training loss")
        axis.set_xlabel("step")
        axis.set_ylabel("loss")
        axis.set_yscale("log")
        if scored:
            other = axis.twinx()
            steps, giou, ciou = zip(*scored)
            other.plot(steps, giou, "o-", color="tab:green", label="val gIoU")
            if all(v is not None for v in ciou):
                other.plot(steps, ciou, "s--", color="tab:orange", label="val cIoU")
            other.set_ylabel("val metric (%)")
            other.legend(loc="upper right")
        axis.legend(loc="upper left")
        axis.grid(alpha=0.3)
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
        plt.close(figure)
        write_text(self.out_dir / "loss_curve.svg", buffer.getvalue())
