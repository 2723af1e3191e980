"""The datasets grefbench knows: where their files sit under a data root and what they hold."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from grefbench.errors import DatasetError


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: its folder under ROOT, its refs file stem and its usual splits."""

    name: str
    folder: str
    refs_stem: str
    splits: tuple[str, ...]
    multi_target: bool
    description: str
    # "refer" (gRefCOCO / RefCOCO loaders), or a zero-target benchmark with its own loader and metrics.
    family: str = "refer"
    image_folder: str = "train2014"

    def refs_candidates(self, root: Path) -> list[Path]:
        """Refs files in the order the official loaders try them (pickle first, then JSON)."""
        base = root / self.folder
        return [base / f"{self.refs_stem}.p", base / f"{self.refs_stem}.json"]

    def instances_path(self, root: Path) -> Path:
        return root / self.folder / "instances.json"

    def layout(self) -> str:
        """The expected file layout, for error messages."""
        refs = f"{self.refs_stem}.json (or .p)" if self.family == "refer" else f"{self.refs_stem}.p"
        return (
            f"ROOT/{self.folder}/{refs}, ROOT/{self.folder}/instances.json, "
            f"images in ROOT/images/{self.image_folder}/"
        )


def image_root(root: Path, spec: DatasetSpec | None = None) -> Path:
    """The COCO images of a dataset: train2014 (ReLA layout), or Ref-ZOM's merged trainval2014."""
    return root / "images" / (spec.image_folder if spec is not None else "train2014")


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("grefcoco", "grefcoco", "grefs(unc)", ("train", "val", "testA", "testB"), True,
                    "gRefCOCO (GRES, CVPR 2023): single, multi and no-target expressions"),
        DatasetSpec("refcoco", "refcoco", "refs(unc)", ("train", "val", "testA", "testB"), False,
                    "RefCOCO (UNC splits): single-target"),
        DatasetSpec("refcoco+", "refcoco+", "refs(unc)", ("train", "val", "testA", "testB"), False,
                    "RefCOCO+ (UNC splits): single-target, no location words"),
        DatasetSpec("refcocog", "refcocog", "refs(umd)", ("train", "val", "test"), False,
                    "RefCOCOg (UMD splits): single-target, longer expressions"),
        DatasetSpec("refcocog-google", "refcocog", "refs(google)", ("train", "val"), False,
                    "RefCOCOg (Google splits): single-target"),
        DatasetSpec("grefshapes", "grefcoco", "grefs(unc)", ("train", "val", "testA", "testB"), True,
                    "gRefShapes: grefbench's procedural GRES benchmark in the gRefCOCO layout"),
        DatasetSpec("refzom", "ref-zom", "refs(final)", ("test",), True,
                    "Ref-ZOM (ICCV 2023): zero-, one- and many-target sentences; Acc, oIoU, mIoU (protocol refzom480)",
                    family="refzom", image_folder="trainval2014"),
        *(DatasetSpec(name, name, "refs(unc)", ("val",), False,
                      f"{label} (TIP 2024): positive sentences plus negative ones (exist: false); mIoU, oIoU, rIoU, r "
                      "(protocol rrefcoco480)", family="rrefcoco")
          for name, label in (("rrefcoco", "R-RefCOCO"), ("rrefcoco+", "R-RefCOCO+"), ("rrefcocog", "R-RefCOCOg"))),
    )
}


def get_dataset(name: str) -> DatasetSpec:
    """Look a dataset up by name; an unknown name lists close matches and all choices."""
    try:
        return DATASETS[name]
    except KeyError:
        close = difflib.get_close_matches(name, DATASETS, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise DatasetError(f"Unknown dataset {name!r}.{hint} Available: {', '.join(DATASETS)}") from None


def embedded_root() -> Path:
    """The gRefShapes eval splits that ship inside the package."""
    from grefbench.data.synth.resources import resources_root

    return resources_root()


def default_root(dataset: str) -> Path | None:
    """The data root used when none is given: the embedded gRefShapes for `grefshapes`, else None."""
    return embedded_root() if dataset == "grefshapes" else None


def resolve_root(dataset: str, data_root: Path | None) -> Path:
    """The data root to use: the given one, or the default of `dataset`; a UsageError when there is none."""
    from grefbench.errors import UsageError

    root = data_root or default_root(dataset)
    if root is None:
        raise UsageError(f"--data-root is required for dataset {dataset!r} (the folder that holds {dataset}/ and images/)")
    return Path(root)
