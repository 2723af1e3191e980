"""Strict, safe loading of official LAVT checkpoints: the full-size key set, and every way a file can be wrong."""

from __future__ import annotations

import os
import subprocess

import pytest
import torch

from grefbench.errors import CheckpointError
from grefbench.models.lavt.build import build_lavt
from grefbench.models.lavt.checkpoint import infer_config, load_lavt_state_strict, read_lavt_checkpoint
from grefbench.models.lavt.config import load_config
from grefbench.models.lavt.model import LAVT
from grefbench.models.text.bert import text_config_for
from tests.models.lavt.helpers import official_args, official_state, write_official_checkpoint, write_text_config
from tests.models.lavt.official_lavt import official_bert_shapes, official_model_shapes


def full_size_official_state() -> dict[str, torch.Tensor]:
    """The released LAVT (Swin-B window 12 + BERT-base) key set as meta tensors: shapes without memory."""
    model = official_model_shapes(128, (2, 2, 18, 2), (4, 8, 16, 32), 12, 768)
    bert = official_bert_shapes(30522, 768, 12, 3072)
    state = {k: torch.empty(s, device="meta") for k, s in model.items()}
    state.update({f"text_encoder.{k}": torch.empty(s, device="meta") for k, s in bert.items()})
    return state


def test_the_full_size_official_key_set_loads_strictly():
    state = full_size_official_state()
    inferred = infer_config(state, official_args(swin_type="base", window12=True))
    assert inferred.name == "lavt_swin_b"
    assert inferred.swin.window_size == 12 and list(inferred.swin.num_heads) == [4, 8, 16, 32]
    with torch.device("meta"):
        model = LAVT(load_config("lavt_swin_b"), text_config_for("bert-base-uncased"))
    assert set(model.state_dict()) == set(state)
    assert "backbone.layers.3.res_gate.0.weight" in state  # the last stage's gate, discarded officially
    load_lavt_state_strict(model, state, source="full-size")


@pytest.fixture(scope="module")
def parts():
    return official_state(seed=7)


@pytest.fixture(scope="module")
def text_config(tmp_path_factory):
    return write_text_config(tmp_path_factory.mktemp("text") / "config.json")


def _load(tmp_path, text_config, model_sd, bert_sd, args=None):
    path = write_official_checkpoint(tmp_path / "model.pth", model_sd, bert_sd, args or official_args())
    return build_lavt(weights=path, text_config=text_config)


def test_missing_key_is_named(tmp_path, text_config, parts):
    model_sd, bert_sd = parts
    model_sd = {k: v for k, v in model_sd.items() if k != "classifier.bn2_3.running_var"}
    with pytest.raises(CheckpointError, match=r"missing 1 key\(s\): classifier\.bn2_3\.running_var"):
        _load(tmp_path, text_config, model_sd, bert_sd)


def test_missing_bert_key_is_named_under_text_encoder(tmp_path, text_config, parts):
    model_sd, bert_sd = parts
    bert_sd = {k: v for k, v in bert_sd.items() if k != "encoder.layer.1.output.dense.bias"}
    with pytest.raises(CheckpointError, match=r"text_encoder\.encoder\.layer\.1\.output\.dense\.bias"):
        _load(tmp_path, text_config, model_sd, bert_sd)


def test_unexpected_key_is_named(tmp_path, text_config, parts):
    model_sd, bert_sd = parts
    with pytest.raises(CheckpointError, match=r"unexpected 1 key\(s\): text_encoder\.pooler\.dense\.weight"):
        _load(tmp_path, text_config, model_sd, {**bert_sd, "pooler.dense.weight": torch.zeros(24, 24)})


def test_position_ids_buffer_is_accepted(tmp_path, text_config, parts):
    model_sd, bert_sd = parts
    _load(tmp_path, text_config, model_sd, {**bert_sd, "embeddings.position_ids": torch.arange(32)[None]})


def test_misshaped_key_is_named_with_both_shapes(tmp_path, text_config, parts):
    model_sd, bert_sd = parts
    model_sd = {**model_sd, "classifier.conv1_1.bias": torch.zeros(3)}
    with pytest.raises(CheckpointError, match=r"classifier\.conv1_1\.bias has shape \(3,\) in the checkpoint but "
                                              r"\(2,\) in the model"):
        _load(tmp_path, text_config, model_sd, bert_sd)


def test_a_preset_that_does_not_fit_says_what_the_checkpoint_holds(tmp_path, parts):
    model_sd, bert_sd = parts
    path = write_official_checkpoint(tmp_path / "model.pth", model_sd, bert_sd, official_args())
    with pytest.raises(CheckpointError, match=r"holds a LAVT with Swin embed_dim 16.*window 12"):
        build_lavt(config="lavt_tiny", weights=path, text_config=write_text_config(tmp_path / "c.json"))


def test_text_width_that_differs_from_the_pwam_keys_is_refused(tmp_path, parts):
    model_sd, bert_sd = parts
    other = write_text_config(tmp_path / "c.json", {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
                                                    "num_attention_heads": 4, "intermediate_size": 40,
                                                    "max_position_embeddings": 32})
    with pytest.raises(CheckpointError, match=r"f_key\.0\.weight has shape"):
        _load(tmp_path, other, model_sd, bert_sd)


class _RunsCode:
    def __reduce__(self):
        return (subprocess.call, (["true"],))


class _SystemCall:
    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.parametrize("payload", [_RunsCode(), _SystemCall()], ids=["subprocess", "os.system"])
def test_a_pickle_with_a_forbidden_global_is_refused_naming_it(tmp_path, parts, payload):
    model_sd, bert_sd = parts
    path = tmp_path / "evil.pth"
    torch.save({"model": model_sd, "bert_model": bert_sd, "args": payload}, path)
    with pytest.raises(CheckpointError) as error:
        read_lavt_checkpoint(path)
    message = str(error.value)
    assert "needs the global" in message and ("system" in message or "call" in message) and str(path) in message
    assert "weights_only" not in message


def test_files_that_are_not_checkpoints(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.pth cannot be read"):
        read_lavt_checkpoint(text)
    with pytest.raises(CheckpointError, match=r"does not exist"):
        read_lavt_checkpoint(tmp_path / "absent.pth")
    listing = tmp_path / "list.pth"
    torch.save([1, 2, 3], listing)
    with pytest.raises(CheckpointError, match=r"no \"model\" state dict"):
        read_lavt_checkpoint(listing)
    other = tmp_path / "rela_like.pth"
    torch.save({"model": {"backbone.stem.conv1.weight": torch.zeros(1)}}, other)
    with pytest.raises(CheckpointError, match=r"not a LAVT checkpoint"):
        build_lavt(weights=other)
