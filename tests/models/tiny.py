"""Tiny ReLA configurations for the model tests: every preset shrunk to run in milliseconds."""

from __future__ import annotations

import dataclasses

import torch

from grefbench.models.rela.config import ReLAConfig, load_config

TINY_TEXT = {
    "vocab_size": 1000,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}
PRESET_NAMES = ("rela_r50", "rela_swin_t", "rela_swin_b")


def tiny_config(preset: str, *, decoder_layers: int = 3, queries: int = 16) -> ReLAConfig:
    """`preset` with every width and depth shrunk, keeping its structure (backbone kind, heads, levels)."""
    config = load_config(preset)
    backbone = config.backbone
    if hasattr(backbone, "embed_dim"):
        backbone = dataclasses.replace(
            backbone, embed_dim=16, depths=(1, 2, 1, 1), num_heads=(1, 2, 2, 4), window_size=3
        )
    else:
        backbone = dataclasses.replace(backbone, width_per_group=8, stem_out_channels=16, res2_out_channels=32)
    return dataclasses.replace(
        config,
        backbone=backbone,
        pixel_decoder=dataclasses.replace(
            config.pixel_decoder, conv_dim=32, mask_dim=16, encoder_layers=2, encoder_heads=4
        ),
        decoder=dataclasses.replace(
            config.decoder, hidden_dim=32, heads=4, feedforward=48, layers=decoder_layers, num_queries=queries
        ),
        name=f"{preset} (tiny)",
    )


def tiny_inputs(batch: int = 2, height: int = 64, width: int = 64, length: int = 20, seed: int = 0):
    """Random uint8 images and token ids/masks with decreasing sentence lengths."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, 3, height, width), dtype=torch.uint8, generator=generator)
    tokens = torch.randint(1, TINY_TEXT["vocab_size"], (batch, length), generator=generator)
    mask = torch.zeros(batch, length, dtype=torch.int64)
    for row in range(batch):
        mask[row, : max(2, length - 5 * row)] = 1
    return images, tokens * mask, mask
