"""`grefbench score` of a box file (GREC) vs the official evaluator's per-sentence loop, same files.

Builds the synthetic data itself (gRefCOCO-format files; box predictions as jittered target boxes
with scores around the 0.7 cut, extra and missing boxes, boxes on no-target sentences, sentences
with no box at all), runs both as whole processes, checks that the numbers are identical, and
prints the times and their ratio. The official loop is benchmarks/official_grec.py (no grefbench code).

usage: python benchmarks/bench_grec_scoring.py [--sentences 20000] [--workdir DIR] [--repeats 5]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_grefcoco import write_synthetic_grefcoco  # noqa: E402


def run_timed(command: list[str], env: dict) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system, which other load on the machine barely moves) and stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status:
        raise SystemExit(f"{' '.join(command)} failed:\n{err.decode()}")
    return wall, usage.ru_utime + usage.ru_stime, out.decode()


def _jitter(rng: np.random.Generator, box: list[float], spread: float) -> list[float]:
    x, y, w, h = box
    dx, dy = rng.normal(0, spread * w), rng.normal(0, spread * h)
    sw, sh = np.exp(rng.normal(0, spread, 2))
    return [round(max(0.0, x + dx), 2), round(max(0.0, y + dy), 2), round(w * sw, 2), round(h * sh, 2)]


def write_box_predictions(root: Path, out: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    refs = json.loads((root / "grefcoco" / "grefs(unc).json").read_text())
    instances = json.loads((root / "grefcoco" / "instances.json").read_text())
    anns = {a["id"]: a for a in instances["annotations"]}
    entries = []
    for ref in refs:
        ann_ids = ref["ann_id"] if isinstance(ref["ann_id"], list) else [ref["ann_id"]]
        targets = [anns[a]["bbox"] for a in ann_ids if a != -1]
        for sentence in ref["sentences"]:
            boxes, scores = [], []
            for box in targets:
                if rng.random() < 0.9:
                    boxes.append(_jitter(rng, box, 0.15))
                    scores.append(float(rng.choice([0.7, round(rng.uniform(0.5, 1.0), 3)])))
            for _ in range(int(rng.integers(0, 3))):  # distractors, mostly low-scoring
                boxes.append(_jitter(rng, anns[int(rng.choice(list(anns)))]["bbox"], 0.3))
                scores.append(round(float(rng.uniform(0.0, 0.8)), 3))
            if not boxes:
                boxes, scores = [[0.0, 0.0, 10.0, 10.0]], [0.01]  # the official loop needs one box per sentence
            entries.append({"sent_id": sentence["sent_id"], "boxes": boxes, "scores": scores})
    document = {"format": "grefbench-boxes/1", "dataset": "grefcoco", "split": "val",
                "model": {"name": "jittered-target-boxes"}, "predictions": entries}
    out.write_text(json.dumps(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=20000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=5, help="warm runs of grefbench (median shown)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="grefbench-grec-bench-"))
    root = workdir / "data"
    boxes = workdir / "boxes.json"
    if not boxes.exists():
        counts = write_synthetic_grefcoco(root, images=max(args.sentences // 3, 10), annotations_per_image=4,
                                          sentences=args.sentences, split_shares={"val": 1.0})
        write_box_predictions(root, boxes)
        print(f"data: {counts} -> {boxes} ({boxes.stat().st_size / 1e6:.1f} MB)")
    env = dict(os.environ, GREFBENCH_CACHE_DIR=str(workdir / "cache"))
    official_cmd = [sys.executable, str(Path(__file__).with_name("official_grec.py")), str(root), str(boxes)]
    json_out = workdir / "metrics.json"
    grefbench_cmd = [sys.executable, "-m", "grefbench", "score", str(boxes), "--data-root", str(root),
                     "--dataset", "grefcoco", "--split", "val", "--json", str(json_out), "--quiet"]

    official_wall, official_cpu, official_out = run_timed(official_cmd, env)
    official = json.loads(official_out)
    shutil.rmtree(workdir / "cache", ignore_errors=True)  # the first run indexes the split and caches the boxes
    cold_wall, cold_cpu, _ = run_timed(grefbench_cmd, env)
    warm = [run_timed(grefbench_cmd, env)[:2] for _ in range(args.repeats)]
    warm_wall = sorted(w for w, _ in warm)[len(warm) // 2]
    warm_cpu = sorted(c for _, c in warm)[len(warm) // 2]
    ours = json.loads(json_out.read_text())["metrics"]
    same = all(ours[k] == official[k] for k in official)
    print(f"sentences: {official['num_expressions']}; metrics {json.dumps(official)}")
    print(f"{'':34}{'wall':>8}  {'ratio':>6}  {'CPU':>8}  {'ratio':>6}")
    print(f"{'official per-sentence loop':34}{official_wall:7.2f}s  {'':6}  {official_cpu:7.2f}s")
    for label, wall, cpu in (("grefbench score, caches cold", cold_wall, cold_cpu),
                             (f"grefbench score, warm (median {len(warm)})", warm_wall, warm_cpu)):
        print(f"{label:34}{wall:7.2f}s  {official_wall / wall:5.1f}x  {cpu:7.2f}s  {official_cpu / cpu:5.1f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"identical numbers: {same}")
    if not same:
        raise SystemExit(f"numbers differ: grefbench {ours} vs official {official}")


if __name__ == "__main__":
    main()
