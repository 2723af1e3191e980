"""Reading, architecture inference, strict loading and writing of LAVT checkpoints in the official format.

The official `train.py` saves `{"model": LAVT.state_dict(), "bert_model": BertModel.state_dict()
(no pooler), "optimizer", "epoch", "args": argparse.Namespace, "lr_scheduler"}`; `lavt_one`
checkpoints keep BERT inside "model" as `text_encoder.*`. grefbench writes the same layout and adds
"grefbench_config" and "text_config" (and "text_encoder_source" instead of "bert_model" for a
packaged, frozen text encoder). The architecture is read from the tensors: the window from the
relative-position tables ((2w-1)^2 rows), heads from their width; only the PWAM heads (`args.mha`,
'' meaning one per stage) cannot be seen in the weights. `args.swin_type` and `args.window12` are
ignored: `train.py` checkpoints of window-12 models may say `window12=False`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from typing import Any, Mapping

import torch
from torch import nn

from grefbench.errors import CheckpointError, UsageError
from grefbench.io.atomic import atomic_path
from grefbench.models.checkpoints import check_state_dict, load_torch_file
from grefbench.models.lavt.config import LAVTConfig, config_to_dict
from grefbench.models.lavt.presets import PRESETS
from grefbench.models.rela.backbone import SwinConfig

TEXT_PREFIX = "text_encoder."
IGNORED_KEYS = ("text_encoder.embeddings.position_ids",)  # a buffer older transformers saved
OFFICIAL_SWIN_TYPES = {  # lib/segmentation.py: _segm_lavt
    "tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24)), "small": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "base": (128, (2, 2, 18, 2), (4, 8, 16, 32)), "large": (192, (2, 2, 18, 2), (6, 12, 24, 48)),
}
OFFICIAL_DROP_PATH = 0.3


def _named_tensors(value: Any) -> bool:
    return isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in value.items())


def read_lavt_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a LAVT checkpoint safely: only tensors, containers and `argparse.Namespace` are unpickled.

    Returns the file's dict with "model" (and "bert_model" when present) as plain dicts of tensors;
    a bare state dict is wrapped as {"model": ...}. Anything else is a CheckpointError naming the file.
    """
    path = os.fspath(path)
    content = load_torch_file(path, allowed=[argparse.Namespace])
    if _named_tensors(content) and content:
        content = {"model": content}
    if not isinstance(content, Mapping) or "model" not in content:
        raise CheckpointError(f"checkpoint {path} has no \"model\" state dict (expected LAVT's train.py format)")
    for part in ("model", "bert_model"):
        if part in content and not _named_tensors(content[part]):
            raise CheckpointError(f"checkpoint {path}: {part!r} is not a state dict of named tensors")
    args = content.get("args")
    if args is not None and not isinstance(args, (argparse.Namespace, Mapping)):
        raise CheckpointError(f"checkpoint {path}: 'args' is a {type(args).__name__}, not an argparse.Namespace")
    result = dict(content)
    for part in ("model", "bert_model"):
        if part in result:
            result[part] = dict(result[part])
    return result


def checkpoint_state(checkpoint: Mapping[str, Any], *, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model's state dict: "model" plus "bert_model" under `text_encoder.*` (ignored keys dropped)."""
    state = dict(checkpoint["model"])
    if "bert_model" in checkpoint:
        inside = [k for k in state if k.startswith(TEXT_PREFIX)]
        if inside:
            raise CheckpointError(f"{source} has both a \"bert_model\" and {inside[0]} in \"model\"")
        state.update({TEXT_PREFIX + k: v for k, v in checkpoint["bert_model"].items()})
    for key in IGNORED_KEYS:
        state.pop(key, None)
    return state


def _arg(args: Any, name: str, default: Any = None) -> Any:
    if isinstance(args, Mapping):
        return args.get(name, default)
    return getattr(args, name, default)


def parse_mha(value: Any, *, source: str = "checkpoint") -> tuple[int, ...]:
    """The official `--mha`: '' (or None) is one head per stage, 'a-b-c-d' the heads of each stage."""
    if value in (None, ""):
        return (1, 1, 1, 1)
    try:
        heads = tuple(int(part) for part in str(value).split("-"))
    except ValueError:
        raise CheckpointError(f"{source}: args.mha {value!r} is not of the form a-b-c-d") from None
    if len(heads) != 4:
        raise CheckpointError(f"{source}: args.mha {value!r} must give 4 stages' PWAM heads")
    return heads


def infer_config(state: Mapping[str, torch.Tensor], args: Any = None, *, source: str = "checkpoint") -> LAVTConfig:
    """The LAVTConfig a state dict's tensors (and the official `args`, for `mha`, `fusion_drop`, `img_size`) describe."""
    def need(key: str) -> torch.Tensor:
        if key not in state:
            raise CheckpointError(f"{source} is not a LAVT checkpoint: it has no {key}")
        return state[key]

    stem = "conv" if any(k.startswith("backbone.patch_embed.convs.") for k in state) else "patch"
    proj = need("backbone.patch_embed.proj.weight")
    embed_dim = proj.shape[0]
    if stem == "patch":
        patch_size = proj.shape[-1]
    else:
        convs = {int(m.group(1)) for k in state if (m := re.match(r"backbone\.patch_embed\.convs\.(\d+)\.weight", k))}
        patch_size = 2 ** (len([i for i in convs if i % 3 == 0]) - 1)
    stages: dict[int, set[int]] = {}
    for key in state:
        if m := re.match(r"backbone\.layers\.(\d+)\.blocks\.(\d+)\.", key):
            stages.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    if not stages:
        raise CheckpointError(f"{source} is not a LAVT checkpoint: it has no backbone.layers.*.blocks.* keys")
    depths = [len(stages[index]) for index in sorted(stages)]
    heads, windows = [], set()
    for index in sorted(stages):
        table = need(f"backbone.layers.{index}.blocks.0.attn.relative_position_bias_table")
        side = math.isqrt(table.shape[0])
        if side * side != table.shape[0] or side % 2 == 0:
            raise CheckpointError(f"{source}: backbone.layers.{index}.blocks.0.attn.relative_position_bias_table has "
                                  f"{table.shape[0]} rows, not (2w-1)^2 for a window w")
        windows.add((side + 1) // 2)
        heads.append(table.shape[1])
    if len(windows) != 1:
        raise CheckpointError(f"{source}: the stages have different windows {sorted(windows)}")
    hidden = need("backbone.layers.0.blocks.0.mlp.fc1.weight").shape[0]
    swin = SwinConfig(
        patch_size=patch_size, embed_dim=embed_dim, depths=depths, num_heads=heads, window_size=windows.pop(),
        mlp_ratio=hidden / embed_dim, qkv_bias="backbone.layers.0.blocks.0.attn.qkv.bias" in state,
        drop_path_rate=OFFICIAL_DROP_PATH, ape="backbone.absolute_pos_embed" in state,
        patch_norm="backbone.patch_embed.norm.weight" in state, stem=stem,
    )
    if swin.ape:
        swin.pretrain_img_size = state["backbone.absolute_pos_embed"].shape[-1] * patch_size
    values = {"swin": swin, "fusion_heads": parse_mha(_arg(args, "mha"), source=source),
              "fusion_dropout": float(_arg(args, "fusion_drop", 0.0) or 0.0),
              "image_size": int(_arg(args, "img_size", 480) or 480)}
    name = next((preset for preset, entry in PRESETS.items() if _same_swin(entry["swin"], swin)
                 and list(values["fusion_heads"]) == list(entry["fusion_heads"])), "")
    return LAVTConfig(name=name, **values)


def _same_swin(preset: Mapping[str, Any], swin: SwinConfig) -> bool:
    shape = ("embed_dim", "depths", "num_heads", "window_size")
    return all(list(preset[k]) == list(getattr(swin, k)) if isinstance(preset[k], list)
               else preset[k] == getattr(swin, k) for k in shape)


def describe_state_dict(state: Mapping[str, torch.Tensor]) -> str:
    """A short description of the LAVT a state dict holds (for messages)."""
    try:
        swin = infer_config(state).swin
    except CheckpointError as error:
        return str(error)
    words = state.get("backbone.layers.0.fusion.image_lang_att.f_key.0.weight")
    text = f", text width {words.shape[1]}" if words is not None else ""
    return (f"Swin embed_dim {swin.embed_dim}, depths {list(swin.depths)}, heads {list(swin.num_heads)}, "
            f"window {swin.window_size}{text}")


def load_lavt_state_strict(model: nn.Module, state: Mapping[str, torch.Tensor], *, source: str = "checkpoint") -> None:
    """Load `state` (model + `text_encoder.*` keys) into `model`, refusing any missing, unexpected or mis-shaped key."""
    state = {k: v for k, v in state.items() if k not in IGNORED_KEYS}
    expected = model.state_dict()

    def hint() -> str:
        found, wanted = describe_state_dict(state), describe_state_dict(expected)
        return "" if found == wanted else f"it holds a LAVT with {found} but the model has {wanted}. "

    check_state_dict(expected, state, source=source, hint=hint)
    model.load_state_dict(state, strict=True)


def official_args(model: nn.Module) -> argparse.Namespace:
    """The `args` Namespace `train.py` would have saved for this model (what `test.py` needs to rebuild it)."""
    config: LAVTConfig = model.config
    swin = config.swin
    shape = (swin.embed_dim, tuple(swin.depths), tuple(swin.num_heads))
    swin_type = next((name for name, known in OFFICIAL_SWIN_TYPES.items() if known == shape), "grefbench")
    heads = tuple(config.fusion_heads)
    return argparse.Namespace(
        model="lavt", swin_type=swin_type, window12=swin.window_size == 12,
        mha="" if heads == (1, 1, 1, 1) else "-".join(str(h) for h in heads), fusion_drop=config.fusion_dropout,
        img_size=config.image_size, ck_bert=getattr(model, "text_encoder_source", None) or config.text_encoder,
        bert_tokenizer="bert-base-uncased",
    )


def save_lavt_checkpoint(model: nn.Module, path: str | os.PathLike, *, include_text_encoder: bool = True,
                         extra: Mapping[str, Any] | None = None) -> None:
    """Write `model` atomically in the official layout (`model`, `bert_model`, `args`) plus grefbench's config.

    With `include_text_encoder=False` (only for a text encoder from a packaged source) "bert_model"
    is left out and "text_encoder_source" names the source. `extra` adds entries (e.g. "epoch").
    """
    from grefbench.models.text.bert import text_config_dict

    state = {key: tensor.detach().cpu() for key, tensor in model.state_dict().items()}
    content: dict[str, Any] = {
        "model": {k: v for k, v in state.items() if not k.startswith(TEXT_PREFIX)},
        "args": official_args(model),
        "grefbench_config": config_to_dict(model.config),
        "text_config": text_config_dict(model.text_config),
    }
    if include_text_encoder:
        content["bert_model"] = {k[len(TEXT_PREFIX):]: v for k, v in state.items() if k.startswith(TEXT_PREFIX)}
    else:
        source = getattr(model, "text_encoder_source", None)
        if source is None:
            raise UsageError("the text encoder can only be left out when it comes from a packaged source")
        content["text_encoder_source"] = source
    clash = sorted(set(extra or {}) & (set(content) | {"bert_model", "text_encoder_source"}))
    if clash:
        raise UsageError(f"extra checkpoint entries {clash} would replace the model's own")
    content.update(extra or {})
    with atomic_path(path) as tmp:
        torch.save(content, tmp)
