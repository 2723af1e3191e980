"""`grefbench score` vs the official evaluator's method on a 20k-sentence native-resolution submission.

Builds the synthetic data itself (gRefCOCO-format files, 640x480-class images, predictions as
jittered ground-truth polygons with some wrong no-target calls), runs both as whole processes from
the same files, checks the numbers are identical, and prints times, the ratio and peak memory.

usage: python benchmarks/bench_scoring.py [--sentences 20000] [--workdir DIR]
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
from pycocotools import mask as coco_mask

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_grefcoco import write_synthetic_grefcoco  # noqa: E402


def write_predictions(root: Path, out: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    refs = json.loads((root / "grefcoco" / "grefs(unc).json").read_text())
    instances = json.loads((root / "grefcoco" / "instances.json").read_text())
    images = {i["id"]: i for i in instances["images"]}
    anns = {a["id"]: a for a in instances["annotations"]}
    entries = []
    for ref in refs:
        image = images[ref["image_id"]]
        h, w = image["height"], image["width"]
        ann_ids = ref["ann_id"] if isinstance(ref["ann_id"], list) else [ref["ann_id"]]
        for sentence in ref["sentences"]:
            flip = rng.random() < 0.15
            no_target = (ann_ids == [-1]) != flip
            polygons = []
            source = [a for a in ann_ids if a != -1] or [int(rng.choice(list(anns)))]
            for ann_id in source:
                for polygon in anns[ann_id]["segmentation"]:
                    points = np.asarray(polygon).reshape(-1, 2) + rng.normal(0, 8, 2) + rng.normal(0, 4, (len(polygon) // 2, 2))
                    polygons.append(np.clip(points, 0, [w - 1, h - 1]).reshape(-1).tolist())
            rles = coco_mask.frPyObjects(polygons, h, w)
            merged = coco_mask.merge(rles)
            entry = {"sent_id": sentence["sent_id"], "no_target": bool(no_target)}
            if not no_target or rng.random() < 0.5:
                entry["mask"] = {"size": [h, w], "counts": merged["counts"].decode()}
            entries.append(entry)
    document = {"format": "grefbench-predictions/1", "dataset": "grefcoco", "split": "val", "protocol": "native",
                "model": {"name": "jittered-ground-truth"}, "predictions": entries}
    out.write_text(json.dumps(document))


def run_measured(command: list[str], env: dict) -> tuple[float, float, str]:
    """Wall time, peak RSS (MB) and stdout of one whole process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = process.stdout.read()
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status:
        raise SystemExit(f"{' '.join(command)} failed:\n{err.decode()}")
    return elapsed, usage.ru_maxrss / 1024, out.decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=20000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each grefbench kind (median shown)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="grefbench-bench-"))
    root = workdir / "data"
    predictions = workdir / "predictions.json"
    if not predictions.exists():
        counts = write_synthetic_grefcoco(root, images=max(args.sentences // 3, 10), annotations_per_image=4,
                                          sentences=args.sentences, split_shares={"val": 1.0})
        write_predictions(root, predictions)
        print(f"data: {counts} -> {predictions} ({predictions.stat().st_size / 1e6:.1f} MB)")
    env = dict(os.environ, GREFBENCH_CACHE_DIR=str(workdir / "cache"))
    official_cmd = [sys.executable, str(Path(__file__).with_name("official_method.py")), str(root), str(predictions)]
    json_out = workdir / "metrics.json"
    grefbench_cmd = [sys.executable, "-m", "grefbench", "score", str(predictions), "--data-root", str(root),
                     "--dataset", "grefcoco", "--split", "val", "--json", str(json_out), "--quiet"]

    official_time, official_peak, official_out = run_measured(official_cmd, env)
    official = json.loads(official_out)
    cold = []
    for _ in range(args.repeats):  # each cold run starts without any cache and builds it
        shutil.rmtree(workdir / "cache", ignore_errors=True)
        cold.append(run_measured(grefbench_cmd, env))
    cold_time = sorted(t for t, _, _ in cold)[len(cold) // 2]
    cold_peak = max(p for _, p, _ in cold)
    warm = [run_measured(grefbench_cmd, env) for _ in range(args.repeats)]
    warm_time = sorted(t for t, _, _ in warm)[len(warm) // 2]
    warm_peak = max(p for _, p, _ in warm)
    ours = json.loads(json_out.read_text())["metrics"]
    worst = max(abs(ours[k] - official[k]) for k in official)

    from grefbench.parallel import default_jobs

    print(f"sentences: {official['num_expressions']}  (native resolution, 640x480-class images); "
          f"grefbench ran with {default_jobs()} process(es), the cores this machine gives it")
    print(f"official method        : {official_time:7.2f} s   peak RSS {official_peak:7.0f} MB")
    print(f"grefbench score (cold) : {cold_time:7.2f} s   peak RSS {cold_peak:7.0f} MB   ratio {official_time / cold_time:5.1f}x")
    print(f"grefbench score (warm) : {warm_time:7.2f} s   peak RSS {warm_peak:7.0f} MB   ratio {official_time / warm_time:5.1f}x")
    print(f"max |difference| over {', '.join(official)}: {worst:.2e}")
    if worst > 1e-9:
        raise SystemExit("numbers differ")


if __name__ == "__main__":
    main()
