"""gRefShapes: a procedural GRES benchmark written in the gRefCOCO file format.

Scenes of 3–8 shapes with exact visible-region polygons; expressions from a grammar over logical
forms whose referents a small evaluator computes (single, multi and no-target); splits train,
val, testA (same distribution) and testB (colour–shape pairs never seen in train).

    from grefbench.data.synth import generate, resources_root
    summary = generate("data/grefshapes", train_images=5000)
    root = resources_root()  # the shipped val / testA / testB
"""

from grefbench.data.synth.attributes import NOVEL_PAIRS, SHIPPED_SPLITS, SPLITS
from grefbench.data.synth.logic import LogicalFormError, evaluate
from grefbench.data.synth.records import ImageSample, build_image, image_id_for
from grefbench.data.synth.resources import resources_root
from grefbench.data.synth.sidecar import check_referents, read_scenes
from grefbench.data.synth.writer import DEFAULT_JPEG_QUALITY, generate

__all__ = [
    "DEFAULT_JPEG_QUALITY",
    "NOVEL_PAIRS",
    "SHIPPED_SPLITS",
    "SPLITS",
    "ImageSample",
    "LogicalFormError",
    "build_image",
    "check_referents",
    "evaluate",
    "generate",
    "image_id_for",
    "read_scenes",
    "resources_root",
]
