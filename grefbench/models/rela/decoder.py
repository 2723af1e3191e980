"""ReLA decoder: region queries attend to image and language features and predict the target mask.

Names follow the official `MultiScaleMaskedReferringDecoder` (`RIA_layers`, `RLA_vision`,
`RLA_lang_att`, `transformer_ffn_layers`, `minimap_embed`, `nt_embed`, `mask_embed`, ...), so
official state dicts load unchanged. Official behaviour kept on purpose:

- `DEC_LAYERS = N` in a config gives N - 1 layers (one "layer" counts the heads on the initial queries).
- Only the first layer attends to language, gated by `sigmoid(lang_weight) * language_weight`
  (`language_weight` = 0.1, fixed in the official code whatever LANG_ATT_WEIGHT says).
- `lang_weight` is a parameter but the official checkpoints never set it (the official class
  overrides `_load_from_state_dict` without loading its own parameters), so published numbers
  use its initial value 0.0; see `checkpoint.py`.
- The language cross-attention has no padding mask: padded tokens are attended to.

`language_mode="every_layer"` (config key GREFBENCH.DECODER_LANGUAGE, grefbench's own, off by
default) is a deliberate deviation for models trained from scratch: every layer attends to the
words (`RLA_lang_layers`, with the query positions and a padding mask), the projection is not
zero-initialised and nothing scales the result down. In the official design the queries get
language only at 0.05 strength through a zero-initialised projection, so a small model trained
from scratch has to select the referred objects through the backbone's fusion alone.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from grefbench.models.rela.attention import (
    MLP,
    CrossAttentionBlock,
    FeedForwardBlock,
    SelfAttentionBlock,
)
from grefbench.models.rela.position_encoding import sine_position_encoding

NUM_SCALES = 3


class ReferringDecoder(nn.Module):
    """Region queries (a minimap of `num_queries` cells) refined over the image scales in turn.

    Output (`forward`): `pred_masks` [B, 2, H, W] (target logits at the mask-feature stride;
    channel 1 is "target"), `pred_logits` [B, Q, 2] (the minimap: does each region hold the
    target), `nt_label` [B, 2] (no-target logits, averaged over regions).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        hidden_dim: int,
        num_queries: int,
        heads: int,
        feedforward: int,
        layers: int,
        pre_norm: bool,
        mask_dim: int,
        enforce_input_proj: bool,
        text_dim: int,
        language_weight: float = 0.1,
        language_mode: str = "official",
    ):
        super().__init__()
        self.heads = heads
        self.num_layers = layers
        self.language_weight = language_weight
        self.language_mode = language_mode
        self.RIA_layers = nn.ModuleList(CrossAttentionBlock(hidden_dim, heads, pre_norm=pre_norm) for _ in range(layers))
        self.RLA_vision = nn.ModuleList(SelfAttentionBlock(hidden_dim, heads, pre_norm=pre_norm) for _ in range(layers))
        self.transformer_ffn_layers = nn.ModuleList(
            FeedForwardBlock(hidden_dim, feedforward, pre_norm=pre_norm) for _ in range(layers)
        )
        self.decoder_norm = nn.LayerNorm(hidden_dim)
        self.query_feat = nn.Embedding(num_queries, hidden_dim)
        self.query_embed = nn.Embedding(num_queries, hidden_dim)
        self.lang_proj = nn.Linear(text_dim, hidden_dim, bias=False)
        if language_mode == "every_layer":
            self.RLA_lang_layers = nn.ModuleList(
                CrossAttentionBlock(hidden_dim, heads, pre_norm=pre_norm) for _ in range(layers)
            )
        else:
            nn.init.zeros_(self.lang_proj.weight)
            self.lang_weight = nn.Parameter(torch.tensor(0.0))
            self.RLA_lang_att = CrossAttentionBlock(hidden_dim, heads, pre_norm=pre_norm)
        self.level_embed = nn.Embedding(NUM_SCALES, hidden_dim)
        self.input_proj = nn.ModuleList()
        for _ in range(NUM_SCALES):
            if in_channels != hidden_dim or enforce_input_proj:
                projection = nn.Conv2d(in_channels, hidden_dim, kernel_size=1)
                nn.init.kaiming_uniform_(projection.weight, a=1)
                nn.init.zeros_(projection.bias)
                self.input_proj.append(projection)
            else:
                self.input_proj.append(nn.Sequential())
        self.minimap_embed = nn.Linear(hidden_dim, 2)
        self.nt_embed = MLP(hidden_dim, hidden_dim, 2, 2)
        self.mask_embed = MLP(hidden_dim, hidden_dim, mask_dim, 3)

    def forward(
        self,
        scales: Sequence[torch.Tensor],
        mask_features: torch.Tensor,
        lang_feat: torch.Tensor,
        lang_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Decode three maps [B, C, H_l, W_l] (coarse first), `mask_features` [B, D, H, W], `lang_feat` [B, text_dim, L].

        `lang_mask` [B, L] (1 for real tokens) is only used by the "every_layer" mode.
        """
        assert len(scales) == NUM_SCALES
        batch = mask_features.shape[0]
        memories, memory_keys, sizes = [], [], []
        for index, scale in enumerate(scales):
            height, width = scale.shape[-2:]
            sizes.append((height, width))
            memory = self.input_proj[index](scale).flatten(2).transpose(1, 2) + self.level_embed.weight[index]
            position = sine_position_encoding(height, width, memory.shape[-1], device=memory.device)
            memories.append(memory)
            memory_keys.append(memory + position.flatten(2).transpose(1, 2))
        # The attention masks only need the mask logits at each scale's size; bilinear resizing
        # is linear, so resizing the mask features once per scale gives the same logits as the
        # official resizing of the full-resolution logits of every layer, for a fraction of the work.
        resized_features = [
            F.interpolate(mask_features, size=size, mode="bilinear", align_corners=False) for size in sizes
        ]

        query_pos = self.query_embed.weight.unsqueeze(0).expand(batch, -1, -1)
        output = self.query_feat.weight.unsqueeze(0).expand(batch, -1, -1)
        allowed = self._attention_mask(output, resized_features[0])
        language = self.lang_proj(lang_feat.transpose(1, 2))
        word_allowed = None
        if lang_mask is not None and self.language_mode == "every_layer":
            word_allowed = lang_mask.bool()[:, None, None, :]  # [B, 1, 1, L], shared by heads and queries
        for index in range(self.num_layers):
            level = index % NUM_SCALES
            output = self.RIA_layers[index](
                output, memories[level], memory_key=memory_keys[level], query_pos=query_pos, allowed=allowed
            )
            if self.language_mode == "every_layer":
                output = self.RLA_lang_layers[index](output, language, query_pos=query_pos, allowed=word_allowed)
            elif index == 0:
                gated = self.RLA_lang_att(output, language) * torch.sigmoid(self.lang_weight)
                output = output + gated * self.language_weight
            output = self.RLA_vision[index](output, query_pos=query_pos)
            output = self.transformer_ffn_layers[index](output)
            if index + 1 < self.num_layers:
                allowed = self._attention_mask(output, resized_features[(index + 1) % NUM_SCALES])
        return self._predict(output, mask_features)

    def _attention_mask(self, output: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Regions may attend where their own mask is on (sigmoid >= 0.5); an empty mask attends everywhere."""
        region_embed = self.mask_embed(self.decoder_norm(output))
        logits = torch.einsum("bqc,bchw->bqhw", region_embed, features).flatten(2)
        allowed = torch.sigmoid(logits) >= 0.5
        allowed |= ~allowed.any(-1, keepdim=True)
        return allowed.unsqueeze(1)  # shared by all heads

    def _predict(self, output: torch.Tensor, mask_features: torch.Tensor) -> dict[str, torch.Tensor]:
        regions = self.decoder_norm(output)
        region_embed = self.mask_embed(regions)
        minimap = self.minimap_embed(regions)
        # Target mask = minimap-weighted sum of region masks, computed on the embeddings first.
        target_embed = torch.einsum("bqa,bqc->bac", minimap, region_embed)
        pred_masks = torch.einsum("bac,bchw->bahw", target_embed, mask_features)
        no_target = self.nt_embed(regions).mean(dim=1)
        return {"pred_masks": pred_masks, "pred_logits": minimap, "nt_label": no_target}
