"""LAVT (Yang et al., CVPR 2022; yz93/LAVT-RIS) in pure PyTorch: BERT, multimodal Swin with PWAM, SimpleDecoding.

`forward` is the official pipeline (`test.py`: `bert_model` then `LAVT.forward`) on uint8
images; the state dict is the official `model` dict (`backbone.*`, `classifier.*`) plus the
official `bert_model` dict under `text_encoder.*`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from grefbench.errors import UsageError
from grefbench.models.backbones.swin import SwinBackbone
from grefbench.models.lavt.config import LAVTConfig, check_config
from grefbench.models.text.bert import build_text_encoder

if TYPE_CHECKING:
    from transformers import BertConfig

BERT_MASK_VALUE = -10000.0  # LAVT's BERT copy (bert/modeling_utils.py: get_extended_attention_mask)


def _upsample(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Official SimpleDecoding: bilinear, align_corners=True, only when `x` is smaller than `like`."""
    if x.size(-2) < like.size(-2) or x.size(-1) < like.size(-1):
        x = F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=True)
    return x


class SimpleDecoding(nn.Module):
    """Three top-down fusions (stride 32 -> 16 -> 8 -> 4) of two conv-BN-ReLU each, then 2-class 1x1 logits.

    Names follow `lib/mask_predictor.py` so the official `classifier.*` keys load as they are.
    """

    def __init__(self, c4_dims: int, factor: int = 2) -> None:
        super().__init__()
        hidden = c4_dims // factor
        inputs = {"4": c4_dims + c4_dims // factor, "3": hidden + c4_dims // factor**2,
                  "2": hidden + c4_dims // factor**3}
        for level, channels in inputs.items():
            setattr(self, f"conv1_{level}", nn.Conv2d(channels, hidden, 3, padding=1, bias=False))
            setattr(self, f"bn1_{level}", nn.BatchNorm2d(hidden))
            setattr(self, f"relu1_{level}", nn.ReLU())
            setattr(self, f"conv2_{level}", nn.Conv2d(hidden, hidden, 3, padding=1, bias=False))
            setattr(self, f"bn2_{level}", nn.BatchNorm2d(hidden))
            setattr(self, f"relu2_{level}", nn.ReLU())
        self.conv1_1 = nn.Conv2d(hidden, 2, 1)

    def _fuse(self, level: str, x: torch.Tensor) -> torch.Tensor:
        x = getattr(self, f"relu1_{level}")(getattr(self, f"bn1_{level}")(getattr(self, f"conv1_{level}")(x)))
        return getattr(self, f"relu2_{level}")(getattr(self, f"bn2_{level}")(getattr(self, f"conv2_{level}")(x)))

    def forward(self, x_c4: torch.Tensor, x_c3: torch.Tensor, x_c2: torch.Tensor, x_c1: torch.Tensor) -> torch.Tensor:
        x = self._fuse("4", torch.cat([_upsample(x_c4, x_c3), x_c3], dim=1))
        x = self._fuse("3", torch.cat([_upsample(x, x_c2), x_c2], dim=1))
        x = self._fuse("2", torch.cat([_upsample(x, x_c1), x_c1], dim=1))
        return self.conv1_1(x)


def _official_swin_init(module: nn.Module) -> None:
    """`MultiModalSwinTransformer.init_weights()`: Linear trunc-normal(0.02) and zero bias, LayerNorm 1 / 0."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class LAVT(nn.Module):
    """`forward(images uint8 [B,3,H,W], lang_tokens int64 [B,L], lang_mask int64 [B,L]) -> {"logits": [B,2,H,W]}`.

    Images are already resized (officially 480x480, aspect ratio not kept); they are scaled to
    0-1 and normalised with `config.pixel_mean/std` here. The mask is `logits.argmax(1)`.
    The same outputs in train and eval mode (BatchNorm and dropout follow the mode).
    """

    family_name = "lavt"  # its entry in the model registry
    image_encoder_reads_words = True  # PWAM fuses the sentence into every Swin stage

    def __init__(self, config: LAVTConfig, text_config: "BertConfig"):
        super().__init__()
        check_config(config, origin=config.name or "config")
        self.config = config
        self.text_config = text_config
        self.text_encoder_source: str | None = None
        swin = config.swin
        self.backbone = SwinBackbone(
            pretrain_img_size=swin.pretrain_img_size, patch_size=swin.patch_size, embed_dim=swin.embed_dim,
            depths=tuple(swin.depths), num_heads=tuple(swin.num_heads), window_size=swin.window_size,
            mlp_ratio=swin.mlp_ratio, qkv_bias=swin.qkv_bias, qk_scale=swin.qk_scale, drop_rate=swin.drop_rate,
            attn_drop_rate=swin.attn_drop_rate, drop_path_rate=swin.drop_path_rate, ape=swin.ape,
            patch_norm=swin.patch_norm, use_checkpoint=swin.use_checkpoint, text_dim=text_config.hidden_size,
            stem=swin.stem, fusion_heads=config.fusion_heads, fusion_dropout=config.fusion_dropout,
            gate_every_stage=True,
        )
        self.backbone.apply(_official_swin_init)
        self.classifier = SimpleDecoding(8 * swin.embed_dim)
        self.text_encoder = build_text_encoder(text_config)
        mean = torch.tensor(config.pixel_mean, dtype=torch.float32).view(-1, 1, 1)
        std = torch.tensor(config.pixel_std, dtype=torch.float32).view(-1, 1, 1)
        self.register_buffer("pixel_mean", mean, persistent=False)  # not in the official state dict
        self.register_buffer("pixel_std", std, persistent=False)

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def train(self, mode: bool = True) -> "LAVT":
        """As the official `lavt` training: BERT stays in eval mode (no dropout) while the rest trains.

        `train.py` builds `bert_model` with `from_pretrained` (which returns it in eval mode) and
        only ever calls `model.train()` on the LAVT module; BERT's weights are still optimised.
        """
        super().train(mode)
        self.text_encoder.train(False)
        return self

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 RGB [B, 3, H, W] to the official input: ToTensor (x / 255) then Normalize(mean, std)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise UsageError(f"images must be [B, 3, H, W] RGB, got shape {tuple(images.shape)}")
        if images.is_floating_point():
            raise UsageError(f"images must be uint8 0-255 (already resized), got {images.dtype}")
        x = images.to(self.device, torch.float32).div(255)
        return x.sub(self.pixel_mean).div(self.pixel_std)

    def encode_text(self, lang_tokens: torch.Tensor, lang_mask: torch.Tensor) -> torch.Tensor:
        """Token ids and mask [B, L] to BERT's last hidden states, channels first [B, text_dim, L].

        Masked words get -10000 added to their attention logits, as LAVT's BERT copy does (the
        same numbers as a boolean mask unless a row has no word at all).
        """
        if lang_tokens.shape != lang_mask.shape or lang_tokens.ndim != 2:
            raise UsageError(f"lang_tokens and lang_mask must both be [B, L], got {tuple(lang_tokens.shape)} "
                             f"and {tuple(lang_mask.shape)}")
        dtype = self.text_encoder.embeddings.word_embeddings.weight.dtype
        additive = (1.0 - lang_mask[:, None, None, :].to(dtype)) * BERT_MASK_VALUE
        hidden = self.text_encoder(input_ids=lang_tokens, attention_mask=additive).last_hidden_state
        return hidden.transpose(1, 2)

    def forward(self, images: torch.Tensor, lang_tokens: torch.Tensor, lang_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.normalize(images)
        if x.shape[0] != lang_tokens.shape[0]:
            raise UsageError(f"{x.shape[0]} images but {lang_tokens.shape[0]} token rows")
        lang_tokens, lang_mask = lang_tokens.to(x.device), lang_mask.to(x.device)
        lang_feat = self.encode_text(lang_tokens, lang_mask)
        features = self.backbone(x, lang_feat, lang_mask.unsqueeze(-1).to(lang_feat.dtype))
        logits = self.classifier(features["res5"], features["res4"], features["res3"], features["res2"])
        logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=True)
        return {"logits": logits}
