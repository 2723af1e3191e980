"""The assembled ReLA model: text encoder, language-fused backbone, pixel decoder and referring decoder.

Module names are the official ones (`backbone`, `sem_seg_head.pixel_decoder`,
`sem_seg_head.predictor`, `text_encoder`), so `state_dict()` has the keys of the official
`model_final.pth`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from grefbench.errors import UsageError
from grefbench.models.rela.config import ReLAConfig, check_config
from grefbench.models.rela.decoder import ReferringDecoder
from grefbench.models.rela.pixel_decoder import PixelDecoder
from grefbench.models.rela.resnet import ResNetBackbone
from grefbench.models.text.bert import build_text_encoder

if TYPE_CHECKING:
    from transformers import BertConfig


def backbone_category_source(features: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """What the category head reads under GREFBENCH.CATEGORY_FEATURES=backbone: res2 with res3 upsampled beside it."""
    fine = features["res2"]
    coarse = F.interpolate(features["res3"], size=fine.shape[-2:], mode="bilinear", align_corners=False)
    return torch.cat([fine, coarse], dim=1)


class ReferringHead(nn.Module):
    """The official `sem_seg_head`: the pixel decoder feeding the referring decoder."""

    def __init__(self, config: ReLAConfig, input_shape: Mapping[str, tuple[int, int]], text_dim: int):
        super().__init__()
        pixel, decoder = config.pixel_decoder, config.decoder
        self.pixel_decoder = PixelDecoder(
            {name: input_shape[name] for name in pixel.in_features},
            in_features=pixel.in_features,
            encoder_in_features=pixel.encoder_in_features,
            conv_dim=pixel.conv_dim,
            mask_dim=pixel.mask_dim,
            norm=pixel.norm,
            encoder_layers=pixel.encoder_layers,
            encoder_heads=pixel.encoder_heads,
            encoder_points=pixel.encoder_points,
            encoder_feedforward=pixel.encoder_feedforward,
            dropout=pixel.dropout,
            common_stride=pixel.common_stride,
        )
        self.predictor = ReferringDecoder(
            in_channels=pixel.conv_dim,
            hidden_dim=decoder.hidden_dim,
            num_queries=decoder.num_queries,
            heads=decoder.heads,
            feedforward=decoder.feedforward,
            layers=decoder.layers,
            pre_norm=decoder.pre_norm,
            mask_dim=pixel.mask_dim,
            enforce_input_proj=decoder.enforce_input_proj,
            text_dim=text_dim,
            language_weight=decoder.language_weight,
            language_mode=decoder.language_mode,
        )
        self.category_features = config.category_features
        if config.category_classes:
            # grefbench's auxiliary training head (GREFBENCH.CATEGORY_CLASSES): each pixel's object
            # category from the mask features or from the backbone's res2 + res3 (GREFBENCH.CATEGORY_FEATURES),
            # so those features learn what the shapes/classes are. Unused at inference.
            channels = pixel.mask_dim
            if config.category_features == "backbone":
                channels = input_shape["res2"][0] + input_shape["res3"][0]
            self.category_embed = nn.Conv2d(channels, config.category_classes, kernel_size=1)

    def forward(
        self, features: Mapping[str, torch.Tensor], lang_feat: torch.Tensor, lang_mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        mask_features, scales = self.pixel_decoder(features)
        outputs = self.predictor(scales, mask_features, lang_feat, lang_mask)
        if self.training and hasattr(self, "category_embed"):
            source = backbone_category_source(features) if self.category_features == "backbone" else mask_features
            outputs["category_logits"] = self.category_embed(source)
        return outputs


class ReLA(nn.Module):
    """ReLA for generalized referring expression segmentation (henghuiding/ReLA), as its `GRES` meta-architecture.

    `forward(images, lang_tokens, lang_mask)` takes uint8 RGB images [B, 3, H, W] already resized
    (see `preprocess.py`), token ids and attention mask int64 [B, L] (see `ReferringTokenizer`).
    Images are normalised with the config's pixel mean/std on the 0-255 scale and zero-padded at
    the bottom/right to a multiple of `size_divisibility`, as detectron2's `ImageList` does.

    In eval mode it returns, as the official `GRES.forward`, `ref_seg` = sigmoid of the target
    logits bilinearly upsampled to the padded size [B, 2, Hp, Wp] and `nt_label` = sigmoid of the
    no-target logits [B, 2]; the mask is `ref_seg.argmax(1)` and "no target" is
    `nt_label.argmax(1) == 1`. In training mode it returns the raw decoder outputs
    (`pred_masks`, `pred_logits`, `nt_label`) that `ReferringCriterion` takes.

    Official quirks kept (see decoder.py, checkpoint.py): `lang_weight` is not loaded from
    official checkpoints (it stays 0.0), and the language cross-attention of the decoder has no
    padding mask.
    """

    family_name = "rela"  # its entry in the model registry

    def __init__(self, config: ReLAConfig, text_config: "BertConfig"):
        super().__init__()
        from grefbench.models.rela.backbone import build_backbone

        check_config(config, origin=config.name or "config")
        self.config = config
        self.text_config = text_config
        text_dim = text_config.hidden_size
        self.backbone = build_backbone(config.backbone, text_dim=text_dim)
        self.sem_seg_head = ReferringHead(config, self.backbone.output_shape(), text_dim)
        self.text_encoder = build_text_encoder(text_config)
        mean = torch.tensor(config.pixel_mean, dtype=torch.float32).view(-1, 1, 1)
        std = torch.tensor(config.pixel_std, dtype=torch.float32).view(-1, 1, 1)
        # Not in the state dict, as in the official model.
        self.register_buffer("pixel_mean", mean, persistent=False)
        self.register_buffer("pixel_std", std, persistent=False)
        divisibility = config.size_divisibility
        if divisibility < 0:  # official: "use the backbone's"
            divisibility = int(getattr(self.backbone, "size_divisibility", 0))
        self.size_divisibility = divisibility

    @property
    def device(self) -> torch.device:
        return self.pixel_mean.device

    def normalize_and_pad(self, images: torch.Tensor) -> torch.Tensor:
        """Images 0-255 [B, 3, H, W] to normalised float padded with zeros to the size divisibility."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise UsageError(f"images must be [B, 3, H, W] RGB, got shape {tuple(images.shape)}")
        if images.is_floating_point():
            raise UsageError(f"images must be uint8 0-255 (already resized), got {images.dtype}")
        x = (images.to(self.pixel_mean.device) - self.pixel_mean) / self.pixel_std
        height, width = x.shape[-2:]
        stride = self.size_divisibility
        if stride > 1:
            pad_h = (stride - height % stride) % stride
            pad_w = (stride - width % stride) % stride
            if pad_h or pad_w:
                x = F.pad(x, (0, pad_w, 0, pad_h), value=0.0)
        return x

    def encode_text(self, lang_tokens: torch.Tensor, lang_mask: torch.Tensor) -> torch.Tensor:
        """Token ids and mask [B, L] to language features [B, text_dim, L]."""
        if lang_tokens.shape != lang_mask.shape or lang_tokens.ndim != 2:
            raise UsageError(
                f"lang_tokens and lang_mask must both be [B, L], got {tuple(lang_tokens.shape)} "
                f"and {tuple(lang_mask.shape)}"
            )
        hidden = self.text_encoder(input_ids=lang_tokens, attention_mask=lang_mask).last_hidden_state
        return hidden.transpose(1, 2)

    @property
    def image_encoder_reads_words(self) -> bool:
        """Whether the sentence reaches the backbone (Swin's PWAM fusion does; ResNet-50 ignores it).

        Where it does not, the backbone and the pixel decoder are per-image work: `encode_images`
        runs them once per image and `decode_sentences` the rest once per sentence.
        """
        return not isinstance(self.backbone, ResNetBackbone)

    def encode_images(self, images: torch.Tensor) -> dict[str, object]:
        """The per-image part (backbone and pixel decoder) of a model whose backbone reads no words."""
        if self.image_encoder_reads_words:
            raise UsageError("this ReLA's backbone reads the sentence: its image features are per sentence")
        x = self.normalize_and_pad(images)
        mask_features, scales = self.sem_seg_head.pixel_decoder(self.backbone(x, None, None))
        return {"mask_features": mask_features, "scales": scales, "size": tuple(x.shape[-2:])}

    def decode_sentences(self, encoded: Mapping[str, object], image_index: torch.Tensor, lang_tokens: torch.Tensor,
                         lang_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """The per-sentence part: sentence i reads the features of image `image_index[i]` (eval mode)."""
        index = image_index.to(encoded["mask_features"].device)
        mask_features = encoded["mask_features"].index_select(0, index)
        scales = [scale.index_select(0, index) for scale in encoded["scales"]]
        lang_tokens, lang_mask = lang_tokens.to(index.device), lang_mask.to(index.device)
        lang_feat = self.encode_text(lang_tokens, lang_mask)
        outputs = self.sem_seg_head.predictor(scales, mask_features, lang_feat, lang_mask)
        return self._eval_outputs(outputs, encoded["size"])

    def _eval_outputs(self, outputs: Mapping[str, torch.Tensor], size) -> dict[str, torch.Tensor]:
        ref_seg = F.interpolate(outputs["pred_masks"], size=size, mode="bilinear", align_corners=False)
        return {"ref_seg": ref_seg.sigmoid(), "nt_label": outputs["nt_label"].sigmoid()}

    def forward(
        self, images: torch.Tensor, lang_tokens: torch.Tensor, lang_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        x = self.normalize_and_pad(images)
        if x.shape[0] != lang_tokens.shape[0]:
            raise UsageError(f"{x.shape[0]} images but {lang_tokens.shape[0]} token rows")
        lang_tokens = lang_tokens.to(x.device)
        lang_mask = lang_mask.to(x.device)
        lang_feat = self.encode_text(lang_tokens, lang_mask)
        features = self.backbone(x, lang_feat, lang_mask.unsqueeze(-1).to(lang_feat.dtype))
        outputs = self.sem_seg_head(features, lang_feat, lang_mask)
        if self.training:
            return outputs
        return self._eval_outputs(outputs, x.shape[-2:])
