"""The attribute vocabulary of gRefShapes: shapes (the COCO categories), colours, sizes and splits.

testB measures generalisation: the colour–shape pairs in `NOVEL_PAIRS` never occur in the
train, val or testA images, nor in their expressions. The pairs form a permutation (each colour
and each shape is held out exactly once), so every colour and every shape is still seen in
train with five partners.
"""

from __future__ import annotations

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "hexagon", "diamond")
CATEGORY_IDS: dict[str, int] = {shape: number for number, shape in enumerate(SHAPES, start=1)}
SUPERCATEGORY = "shape"

# Saturated, mutually distant RGB anchors; each object jitters its own fill around them.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 36, 36),
    "green": (34, 158, 58),
    "blue": (38, 86, 216),
    "yellow": (240, 206, 32),
    "purple": (140, 56, 188),
    "orange": (244, 132, 24),
}

SIZES: tuple[str, ...] = ("small", "medium", "large")
# Radius of the circle with the object's area, as a fraction of the image side.
SIZE_RADIUS: dict[str, float] = {"small": 0.06, "medium": 0.087, "large": 0.12}
SIZE_WEIGHTS: dict[str, float] = {"small": 0.34, "medium": 0.33, "large": 0.33}

NOVEL_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {
        ("red", "triangle"),
        ("green", "circle"),
        ("blue", "star"),
        ("yellow", "square"),
        ("purple", "diamond"),
        ("orange", "hexagon"),
    }
)

SPLITS: tuple[str, ...] = ("train", "val", "testA", "testB")
# Fixed codes: they seed each image's random stream and prefix its ids, so a split never
# depends on the size of another.
SPLIT_CODES: dict[str, int] = {"train": 1, "val": 2, "testA": 3, "testB": 4}
SHIPPED_SPLITS: tuple[str, ...] = ("val", "testA", "testB")


def is_novel(colour: str, shape: str) -> bool:
    """Whether a colour–shape pair is held out of train, val and testA."""
    return (colour, shape) in NOVEL_PAIRS
