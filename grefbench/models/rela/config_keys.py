"""The detectron2 config keys a ReLA yaml may set: defaults of the ones that shape the model, and the ones to ignore.

Defaults are those of detectron2's `get_cfg()` after the official `train_net.setup` added
DeepLab, Mask2Former and RefCOCO keys, so a yaml loads as it would in the official code. A key
outside these tables is an error (detectron2 raises too); the sections listed in
`IGNORED_SECTIONS` are training-only and are kept as read, without checks.
"""

from __future__ import annotations

from typing import Any

# Keys that shape the model or its inputs, with their defaults (config.py reads each one).
MODEL_DEFAULTS: dict[str, Any] = {
    "MODEL.META_ARCHITECTURE": "GeneralizedRCNN",
    "MODEL.BACKBONE.NAME": "build_resnet_backbone",
    "MODEL.PIXEL_MEAN": (103.530, 116.280, 123.675),
    "MODEL.PIXEL_STD": (1.0, 1.0, 1.0),
    "MODEL.MASK_FORMER.SIZE_DIVISIBILITY": 32,
    "MODEL.MASK_FORMER.MASK_WEIGHT": 20.0,
    "INPUT.IMAGE_SIZE": 1024,
    "INPUT.FORMAT": "BGR",
    "REFERRING.BERT_TYPE": "bert-base-uncased",
    "REFERRING.MAX_TOKENS": 20,
    "MODEL.SEM_SEG_HEAD.NAME": "SemSegFPNHead",
    "MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME": "BasePixelDecoder",
    "MODEL.SEM_SEG_HEAD.IN_FEATURES": ("p2", "p3", "p4", "p5"),
    "MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES": ("res3", "res4", "res5"),
    "MODEL.SEM_SEG_HEAD.CONVS_DIM": 128,
    "MODEL.SEM_SEG_HEAD.MASK_DIM": 256,
    "MODEL.SEM_SEG_HEAD.NORM": "GN",
    "MODEL.SEM_SEG_HEAD.COMMON_STRIDE": 4,
    "MODEL.SEM_SEG_HEAD.TRANSFORMER_ENC_LAYERS": 0,
    "MODEL.MASK_FORMER.DROPOUT": 0.1,
    "MODEL.MASK_FORMER.TRANSFORMER_DECODER_NAME": "MultiScaleMaskedTransformerDecoder",
    "MODEL.MASK_FORMER.TRANSFORMER_IN_FEATURE": "res5",
    "MODEL.MASK_FORMER.HIDDEN_DIM": 256,
    "MODEL.MASK_FORMER.NUM_OBJECT_QUERIES": 100,
    "MODEL.MASK_FORMER.NHEADS": 8,
    "MODEL.MASK_FORMER.DIM_FEEDFORWARD": 2048,
    "MODEL.MASK_FORMER.DEC_LAYERS": 6,
    "MODEL.MASK_FORMER.PRE_NORM": False,
    "MODEL.MASK_FORMER.ENFORCE_INPUT_PROJ": False,
    # grefbench's own key (no official config sets it): how the decoder sees language.
    # "official" is ReLA's; "every_layer" is the opt-in variant documented in decoder.py.
    "GREFBENCH.DECODER_LANGUAGE": "official",
    # grefbench's own: classes of an auxiliary per-pixel category head on the mask features,
    # trained with `grefbench train --category-weight` and unused at inference (0: no head).
    "GREFBENCH.CATEGORY_CLASSES": 0,
    # grefbench's own: what that head reads, "mask" (the pixel decoder's mask features) or
    # "backbone" (Swin/ResNet res2 with res3 upsampled beside it, so the backbone learns the classes).
    "GREFBENCH.CATEGORY_FEATURES": "mask",
    # grefbench's own: hidden width of the pixel decoder's deformable-encoder FFN, which
    # Mask2Former hard-codes to 1024 whatever CONVS_DIM is; small configs may use less.
    "GREFBENCH.ENCODER_FEEDFORWARD": 1024,
    # grefbench's own: the Swin stem, "patch" (official patchify conv) or "conv" (the opt-in
    # convolutional stem of swin.ConvStem). Only Swin backbones have a choice.
    "GREFBENCH.SWIN_STEM": "patch",
}

# Backbone sections: every key maps to the backbone dataclass field of the same name in lower
# case. Keys the official builders read but grefbench's backbones do not model must keep
# these values (anything else would change the network).
BACKBONE_SECTIONS = {"MODEL.RESNETS": "resnet", "MODEL.SWIN": "swin"}
# Their defaults in the official setup (detectron2 for ResNets, Mask2Former for Swin).
BACKBONE_DEFAULTS: dict[str, Any] = {
    "MODEL.RESNETS.DEPTH": 50,
    "MODEL.RESNETS.OUT_FEATURES": ("res4",),
    "MODEL.RESNETS.NUM_GROUPS": 1,
    "MODEL.RESNETS.NORM": "FrozenBN",
    "MODEL.RESNETS.WIDTH_PER_GROUP": 64,
    "MODEL.RESNETS.STRIDE_IN_1X1": True,
    "MODEL.RESNETS.RES5_DILATION": 1,
    "MODEL.RESNETS.RES2_OUT_CHANNELS": 256,
    "MODEL.RESNETS.STEM_OUT_CHANNELS": 64,
    "MODEL.SWIN.PRETRAIN_IMG_SIZE": 224,
    "MODEL.SWIN.PATCH_SIZE": 4,
    "MODEL.SWIN.EMBED_DIM": 96,
    "MODEL.SWIN.DEPTHS": (2, 2, 6, 2),
    "MODEL.SWIN.NUM_HEADS": (3, 6, 12, 24),
    "MODEL.SWIN.WINDOW_SIZE": 7,
    "MODEL.SWIN.MLP_RATIO": 4.0,
    "MODEL.SWIN.QKV_BIAS": True,
    "MODEL.SWIN.QK_SCALE": None,
    "MODEL.SWIN.DROP_RATE": 0.0,
    "MODEL.SWIN.ATTN_DROP_RATE": 0.0,
    "MODEL.SWIN.DROP_PATH_RATE": 0.3,
    "MODEL.SWIN.APE": False,
    "MODEL.SWIN.PATCH_NORM": True,
    "MODEL.SWIN.OUT_FEATURES": ("res2", "res3", "res4", "res5"),
}
BACKBONE_FIXED: dict[str, Any] = {
    "MODEL.RESNETS.DEFORM_ON_PER_STAGE": (False, False, False, False),
    "MODEL.RESNETS.DEFORM_MODULATED": False,
    "MODEL.RESNETS.DEFORM_NUM_GROUPS": 1,
    "MODEL.SWIN.USE_CHECKPOINT": False,
}
# Backbone keys that no official builder reads (DeepLab additions, marked "not used" in the
# official yaml) and that change nothing.
BACKBONE_UNUSED = {
    "MODEL.RESNETS.STEM_TYPE",
    "MODEL.RESNETS.RES4_DILATION",
    "MODEL.RESNETS.RES5_MULTI_GRID",
}
# MODEL.BACKBONE.FREEZE_AT goes to the ResNet config's `freeze_at` when it has one.
FREEZE_AT_KEY = "MODEL.BACKBONE.FREEZE_AT"

# Known keys that do not change inference: losses and post-processing switches of Mask2Former
# the referring model does not use, DeepLab head options, detectron2 data loading options.
IGNORED_KEYS = {
    "MODEL.LOAD_PROPOSALS", "MODEL.MASK_ON", "MODEL.KEYPOINT_ON", "MODEL.DEVICE", "MODEL.WEIGHTS",
    "MODEL.SEM_SEG_HEAD.IGNORE_VALUE", "MODEL.SEM_SEG_HEAD.NUM_CLASSES", "MODEL.SEM_SEG_HEAD.LOSS_WEIGHT",
    # The official pixel decoder ignores these two (it uses MASK_FORMER.NHEADS and 4 points).
    "MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_POINTS",
    "MODEL.SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS",
    "MODEL.SEM_SEG_HEAD.LOSS_TYPE", "MODEL.SEM_SEG_HEAD.PROJECT_FEATURES",
    "MODEL.SEM_SEG_HEAD.PROJECT_CHANNELS", "MODEL.SEM_SEG_HEAD.ASPP_CHANNELS",
    "MODEL.SEM_SEG_HEAD.ASPP_DILATIONS", "MODEL.SEM_SEG_HEAD.ASPP_DROPOUT",
    "MODEL.SEM_SEG_HEAD.USE_DEPTHWISE_SEPARABLE_CONV",
    "MODEL.MASK_FORMER.DEEP_SUPERVISION", "MODEL.MASK_FORMER.NO_OBJECT_WEIGHT",
    # The official decoder hard-codes the language weight 0.1 and never reads this key.
    "MODEL.MASK_FORMER.LANG_ATT_WEIGHT",
    "MODEL.MASK_FORMER.CLASS_WEIGHT", "MODEL.MASK_FORMER.DICE_WEIGHT", "MODEL.MASK_FORMER.ENC_LAYERS",
    "MODEL.MASK_FORMER.TRAIN_NUM_POINTS", "MODEL.MASK_FORMER.OVERSAMPLE_RATIO",
    "MODEL.MASK_FORMER.IMPORTANCE_SAMPLE_RATIO",
    "INPUT.MIN_SIZE_TRAIN", "INPUT.MIN_SIZE_TRAIN_SAMPLING", "INPUT.MAX_SIZE_TRAIN", "INPUT.MIN_SIZE_TEST",
    "INPUT.MAX_SIZE_TEST", "INPUT.RANDOM_FLIP", "INPUT.MASK_FORMAT", "INPUT.DATASET_MAPPER_NAME",
    "INPUT.COLOR_AUG_SSD", "INPUT.SIZE_DIVISIBILITY", "INPUT.MIN_SCALE", "INPUT.MAX_SCALE",
}
# Whole subtrees of known keys that do not change inference.
IGNORED_PREFIXES = (
    "MODEL.ANCHOR_GENERATOR.", "MODEL.PROPOSAL_GENERATOR.", "MODEL.RPN.", "MODEL.ROI_HEADS.",
    "MODEL.ROI_BOX_HEAD.", "MODEL.ROI_BOX_CASCADE_HEAD.", "MODEL.ROI_MASK_HEAD.", "MODEL.ROI_KEYPOINT_HEAD.",
    "MODEL.PANOPTIC_FPN.", "MODEL.RETINANET.", "MODEL.FPN.", "MODEL.MASK_FORMER.TEST.", "INPUT.CROP.",
)
# Top-level sections about training, data and logging: kept as read, never checked.
IGNORED_SECTIONS = {
    "SOLVER", "DATASETS", "DATALOADER", "TEST", "OUTPUT_DIR", "SEED", "CUDNN_BENCHMARK",
    "VIS_PERIOD", "GLOBAL", "FLOAT32_PRECISION", "VERSION",
}

# Names the official registries resolve, for the values grefbench implements.
BACKBONE_NAMES = {"build_d2_resnet_backbone": "resnet", "D2SwinTransformer": "swin"}
REQUIRED_VALUES = {
    "MODEL.META_ARCHITECTURE": "GRES",
    "MODEL.SEM_SEG_HEAD.NAME": "ReferringHead",
    "MODEL.SEM_SEG_HEAD.PIXEL_DECODER_NAME": "MSDeformAttnPixelDecoder",
    "MODEL.MASK_FORMER.TRANSFORMER_DECODER_NAME": "MultiScaleMaskedReferringDecoder",
    "MODEL.MASK_FORMER.TRANSFORMER_IN_FEATURE": "multi_scale_pixel_decoder",
    "INPUT.FORMAT": "RGB",
}
