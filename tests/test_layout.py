"""No top-level folder of the checkout is importable under a name of its own.

A checkout's root is on `sys.path` under `python -m`, `python -c`, pytest and notebooks, so a
top-level `kernels/__init__.py` once shadowed the PyPI package `kernels` that transformers imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
ALLOWED = {"grefbench", "tests"}

_FIND = """
import importlib.util, json, sys
result = {}
for name in sys.argv[1:]:
    spec = importlib.util.find_spec(name)
    result[name] = None if spec is None else spec.origin
print(json.dumps(result))
"""


def _top_level_names() -> list[str]:
    return sorted(path.name for path in REPOSITORY.iterdir()
                  if path.is_dir() and path.name.isidentifier() and not path.name.startswith((".", "_")))


def test_no_top_level_folder_is_an_importable_package():
    # A folder without __init__.py is at most a namespace portion (origin None): it never shadows an
    # installed package. A regular package or module found inside the checkout would.
    names = [name for name in _top_level_names() if name not in ALLOWED]
    assert names, "expected folders such as kernels/ at the top level"
    found = subprocess.run([sys.executable, "-c", _FIND, *names], cwd=REPOSITORY,
                           capture_output=True, text=True, check=True)
    origins = json.loads(found.stdout)
    shadowing = {name: origin for name, origin in origins.items()
                 if origin not in (None, "namespace") and Path(origin).resolve().is_relative_to(REPOSITORY / name)}
    assert not shadowing, f"top-level folders importable from the checkout root: {shadowing}"


def test_bert_builds_from_the_checkout_root_under_python_m(tmp_path):
    # transformers >= 5.25 imports the PyPI package `kernels` when it builds a BERT model.
    script = tmp_path / "build_bert.py"
    script.write_text(
        "import sys\n"
        "from grefbench.models.text.bert import build_text_encoder, make_text_config\n"
        "config = make_text_config({'hidden_size': 32, 'num_hidden_layers': 1, 'num_attention_heads': 2,\n"
        "                           'intermediate_size': 37, 'vocab_size': 50})\n"
        "build_text_encoder(config)\n"
        "import importlib.util\n"
        "spec = importlib.util.find_spec('kernels')\n"
        "print('kernels:', None if spec is None else spec.origin)\n"
    )
    module_dir = tmp_path / "probe"
    module_dir.mkdir()
    (module_dir / "__init__.py").write_text("")
    (module_dir / "__main__.py").write_text(script.read_text())
    env_path = f"{tmp_path}"
    run = subprocess.run([sys.executable, "-m", "probe"], cwd=REPOSITORY, capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": env_path})
    assert run.returncode == 0, run.stderr[-2000:]
    origin = run.stdout.split("kernels:", 1)[1].strip()
    assert origin == "None" or not Path(origin).resolve().is_relative_to(REPOSITORY / "kernels"), origin


def test_trivial_baselines_run_as_a_module_from_another_directory(tmp_path):
    out = tmp_path / "trivial"
    run = subprocess.run([sys.executable, "-m", "grefbench.baselines.trivial", "--out", str(out), "--split", "val"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    written = sorted(path.name for path in out.iterdir())
    assert written == ["all-object-boxes-grefshapes-val.json.gz", "all-objects-grefshapes-val.json.gz",
                       "always-no-target-grefshapes-val.json.gz"]
    assert "all-objects" in run.stdout and "always-no-target" in run.stdout
