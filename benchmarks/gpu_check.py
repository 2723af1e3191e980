"""GPU self-check: build the CUDA kernel, check it and every family on CUDA against the CPU, time them.

    python benchmarks/gpu_check.py            # writes gpu_check.json; on a machine without CUDA it says so, exit 0

1. Builds the compiled kernels for this machine (`grefbench kernels build`).
2. Multi-scale deformable attention at ReLA's 480x480 shapes: the CUDA kernel against the C++
   kernel, forward and backward, in float64 (tolerance 1e-9) and float32 (1e-4).
3. Every registered family's official-size presets (random weights, seed 0) on the same fixed
   inputs on CUDA and on the CPU: the largest difference of the score maps and the share of mask
   pixels that agree.
4. Sentences/s per preset at fp32, bf16 and fp16 (autocast), with and without image sharing where
   the family shares, 14 sentences per image as in gRefCOCO; peak GPU memory of each.
Everything printed also goes to one JSON file. Meant to finish in a few minutes on one modern GPU.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

SENTENCES_PER_IMAGE = 14
IMAGES = 2
SENTENCES = ["the red circle on the left", "both blue squares", "the third object from the top",
             "all the green triangles", "nothing here is purple", "the big one", "the one next to the star"]


def check_kernel(torch) -> dict[str, Any]:
    """CUDA ms_deform_attn against the C++ kernel, forward and backward, float64 and float32."""
    from grefbench.ops import ms_deform_attn

    shapes = torch.tensor([(60, 60), (30, 30), (15, 15)], dtype=torch.int64)
    sizes = shapes.prod(1)
    starts = torch.cumsum(sizes, 0) - sizes
    spatial, heads, points, channels = int(sizes.sum()), 8, 4, 32
    results = {}
    for dtype, tolerance in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
        generator = torch.Generator().manual_seed(0)
        value = torch.randn(2, spatial, heads, channels, generator=generator, dtype=dtype)
        locations = torch.rand(2, spatial, heads, 3, points, 2, generator=generator, dtype=dtype) * 1.1 - 0.05
        weights = torch.rand(2, spatial, heads, 3 * points, generator=generator, dtype=dtype).softmax(-1)
        weights = weights.view(2, spatial, heads, 3, points)
        grad = torch.randn(2, spatial, heads * channels, generator=generator, dtype=dtype)
        runs = {}
        for backend, device in (("cpp", "cpu"), ("cuda", "cuda")):
            inputs = [t.to(device).requires_grad_() for t in (value, locations, weights)]
            output = ms_deform_attn(inputs[0], shapes.to(device), starts.to(device), inputs[1], inputs[2],
                                    backend=backend)
            output.backward(grad.to(device))
            runs[backend] = [output.detach().cpu()] + [t.grad.cpu() for t in inputs]
        names = ("output", "grad_value", "grad_locations", "grad_weights")
        differences = {name: _relative(a, b) for name, a, b in zip(names, runs["cpp"], runs["cuda"])}
        results[str(dtype).replace("torch.", "")] = {
            "max_relative_difference": differences, "tolerance": tolerance,
            "ok": all(value <= tolerance for value in differences.values())}
    return results


def _relative(a, b) -> float:
    scale = max(float(a.abs().max()), 1e-12)
    return float((a - b).abs().max()) / scale


def _inputs(family, model, torch):
    """Fixed inputs: IMAGES random images, SENTENCES_PER_IMAGE sentences each."""
    transform = family.transform(model)
    height, width = transform.input_size
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (IMAGES, 3, height, width), dtype=torch.uint8, generator=generator)
    tokenizer = family.tokenizer(model, None)
    sentences = [SENTENCES[i % len(SENTENCES)] for i in range(IMAGES * SENTENCES_PER_IMAGE)]
    tokens, mask = tokenizer(sentences)
    image_index = torch.arange(IMAGES).repeat_interleave(SENTENCES_PER_IMAGE)
    return images, image_index, tokens, mask


def _run(model, family, batch, device, share: bool):
    from grefbench.inference.runner import run_batch

    images, image_index, tokens, mask = batch
    return run_batch(model, {"images": images[image_index], "unique_images": images, "image_index": image_index,
                             "lang_tokens": tokens, "lang_mask": mask}, device, share)


def check_family(name: str, preset: str, torch, device: str = "cuda", model=None) -> dict[str, Any]:
    """One preset on `device` against the CPU, then its speed at each precision, with and without sharing.

    `model` (default: the preset with random weights, seed 0) lets the tests run this on the CPU.
    """
    from grefbench.models import get_model_spec, load_model
    from grefbench.models.transforms import binarize

    family = get_model_spec(name)
    if model is None:
        torch.manual_seed(0)
        model = load_model(name, config=preset, device="cpu")
    batch = _inputs(family, model, torch)
    images, image_index, tokens, mask = batch
    first = (images[:1], image_index[:SENTENCES_PER_IMAGE], tokens[:SENTENCES_PER_IMAGE], mask[:SENTENCES_PER_IMAGE])
    with torch.inference_mode():
        on_cpu = family.decode(_run(model, family, first, "cpu", False))
        model = model.to(device)
        on_device = family.decode(_run(model, family, first, device, False))
    cpu_maps, device_maps = on_cpu.maps.float(), on_device.maps.float().cpu()
    agreement = float((binarize(cpu_maps, on_cpu.threshold) == binarize(device_maps, on_device.threshold)).mean())
    result: dict[str, Any] = {"family": name, "preset": preset,
                              "device_vs_cpu": {"max_abs_difference": float((cpu_maps - device_maps).abs().max()),
                                                "mask_pixel_agreement": agreement}}
    result["speed"] = {}
    for precision in ("fp32", "bf16", "fp16"):
        for share in (True, False) if family.shares_images(model) else (False,):
            label, speed = _speed(model, family, batch, device, precision, share, torch)
            if speed is not None:
                result["speed"][label] = speed
    return result


def _speed(model, family, batch, device: str, precision: str, share: bool, torch):
    """(label, {sentences_per_second, peak_memory_gib}) of one setting; None where it cannot run (fp16 on CPU)."""
    from grefbench.inference.runner import _autocast

    cuda = device.startswith("cuda")
    if precision == "fp16" and not cuda:
        return f"{precision}", None
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode(), _autocast(device, precision):
        _run(model, family, batch, device, share)  # warm-up
        if cuda:
            torch.cuda.synchronize()
        started, repeats = time.perf_counter(), 3
        for _ in range(repeats):
            _run(model, family, batch, device, share)
        if cuda:
            torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / repeats
    memory = round(torch.cuda.max_memory_allocated() / 2**30, 3) if cuda else None
    return (f"{precision}{'-shared' if share else ''}",
            {"sentences_per_second": round(len(batch[2]) / seconds, 1), "peak_memory_gib": memory})


def main(out: str = "gpu_check.json") -> int:
    import torch

    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA GPU here (torch {torch.__version__}, CUDA build: {torch.version.cuda}); "
              "nothing to check.")
        return 0
    from grefbench.models import MODELS
    from grefbench.ops import build_kernels

    report: dict[str, Any] = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                              "cuda": torch.version.cuda}
    started = time.perf_counter()
    build = build_kernels()
    report["kernel_build"] = {"seconds": round(time.perf_counter() - started, 1), "library": str(build.library)}
    print(json.dumps(report, indent=1))
    report["ms_deform_attn"] = check_kernel(torch)
    print(json.dumps(report["ms_deform_attn"], indent=1))
    report["families"] = []
    for family in MODELS.values():
        for preset in family.presets:
            if "tiny" in preset:  # the demo presets; the official sizes are what a GPU is for
                continue
            entry = check_family(family.name, preset, torch)
            report["families"].append(entry)
            print(json.dumps(entry))
            torch.cuda.empty_cache()
    report["seconds"] = round(time.perf_counter() - started, 1)
    Path(out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"gpu_check: wrote {out} in {report['seconds']} s")
    failed = [k for k, v in report["ms_deform_attn"].items() if not v["ok"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
