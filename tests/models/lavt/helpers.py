"""Reduced random-weight LAVT checkpoints in the official `train.py` format, for the LAVT tests."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from tests.models.lavt.official_lavt import official_bert_shapes, official_model_shapes, relative_position_index

# A small BERT whose heads (3 of width 8) cannot be inferred from its tensors: it is passed as text_config.
SMALL_BERT = {"vocab_size": 100, "hidden_size": 24, "num_hidden_layers": 2, "num_attention_heads": 3,
              "intermediate_size": 40, "max_position_embeddings": 32, "type_vocab_size": 2}
SMALL_SWIN = {"embed_dim": 16, "depths": (2, 2, 2, 2), "heads": (1, 2, 2, 4), "window": 12}


def random_tensor(key: str, shape: tuple[int, ...], window: int, generator: torch.Generator) -> torch.Tensor:
    """A value of plausible scale for an official key (unit-ish activations through every layer)."""
    if key.endswith("relative_position_index"):
        return relative_position_index(window)
    if key.endswith("num_batches_tracked"):
        return torch.tensor(7)
    if key.endswith("running_var"):
        return torch.rand(shape, generator=generator) + 0.5
    if key.endswith("relative_position_bias_table"):
        return torch.randn(shape, generator=generator) * 0.5
    if len(shape) == 1:
        base = 1.0 if key.endswith(".weight") else 0.0
        return base + 0.1 * torch.randn(shape, generator=generator)
    fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=generator) * fan_in**-0.5


def official_state(swin=SMALL_SWIN, bert=SMALL_BERT, *, seed: int = 0):
    """(model dict, bert_model dict) with random values, keyed and shaped as the official code saves them."""
    generator = torch.Generator().manual_seed(seed)
    model_shapes = official_model_shapes(swin["embed_dim"], swin["depths"], swin["heads"], swin["window"],
                                         bert["hidden_size"])
    bert_shapes = official_bert_shapes(bert["vocab_size"], bert["hidden_size"], bert["num_hidden_layers"],
                                       bert["intermediate_size"], bert["max_position_embeddings"],
                                       bert["type_vocab_size"])
    model = {k: random_tensor(k, s, swin["window"], generator) for k, s in model_shapes.items()}
    bert_model = {k: random_tensor(k, s, swin["window"], generator) for k, s in bert_shapes.items()}
    return model, bert_model


def official_args(**overrides) -> argparse.Namespace:
    """`args.py` defaults as `train.py` saves them (window12 False: train.py infers 12 from the weights' file name)."""
    values = dict(amsgrad=False, batch_size=8, bert_tokenizer="bert-base-uncased", ck_bert="bert-base-uncased",
                  dataset="refcoco", ddp_trained_weights=False, device="cuda:0", epochs=40, fusion_drop=0.0,
                  img_size=480, local_rank=0, lr=5e-05, mha="", model="lavt", model_id="refcoco",
                  output_dir="./checkpoints/", pin_mem=False, pretrained_swin_weights="", print_freq=10,
                  refer_data_root="./refer/data/", resume="", split="test", splitBy="unc", swin_type="tiny",
                  weight_decay=0.01, window12=False, workers=8)
    values.update(overrides)
    return argparse.Namespace(**values)


def write_official_checkpoint(path: Path, model: dict, bert_model: dict | None, args: argparse.Namespace) -> Path:
    """torch.save the dict `train.py` saves (an optimizer and scheduler state included)."""
    content = {"model": model, "optimizer": {"state": {}, "param_groups": [{"lr": 5e-5, "params": [0, 1]}]},
               "epoch": 3, "args": args, "lr_scheduler": {"base_lrs": [5e-5], "last_epoch": 10, "lr_lambdas": [None]}}
    if bert_model is not None:
        content["bert_model"] = bert_model
    torch.save(content, path)
    return path


def write_text_config(path: Path, values: dict = SMALL_BERT) -> Path:
    """A BERT config.json as transformers writes one."""
    path.write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
                                "layer_norm_eps": 1e-12, **values}), encoding="utf-8")
    return path


def sample_inputs(height: int, width: int, *, batch: int = 2, length: int = 20, vocab: int = 100, seed: int = 1):
    """uint8 images and (ids, mask) with [CLS]-first sentences of different lengths."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, 3, height, width), generator=generator, dtype=torch.uint8)
    ids = torch.randint(1, vocab, (batch, length), generator=generator)
    mask = torch.zeros(batch, length, dtype=torch.int64)
    for row in range(batch):
        real = max(2, length - 7 * row)
        mask[row, :real] = 1
    ids = ids * mask
    return images, ids, mask
