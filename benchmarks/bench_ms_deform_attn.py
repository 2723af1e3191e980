"""Speed of the C++ ms_deform_attn kernel against the grid_sample reference at ReLA's 480x480 shapes.

ReLA's pixel decoder encoder at 480x480: levels 60x60, 30x30, 15x15 (res3-res5), every position
is a query (4725), 8 heads, 4 points, d_model 256 (32 channels a head). Sampling locations are
uniform in [-0.05, 1.05] (some points fall outside the map). Times are medians over interleaved
repeats (reference and kernel alternate, so machine load hits both alike).

    python benchmarks/bench_ms_deform_attn.py [--threads 2] [--repeats 15]

Targets (issue 3): C++ >= 3x faster than the reference forward, >= 2x forward+backward.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from grefbench.ops import build_kernels, ms_deform_attn, ms_deform_attn_reference

LEVEL_SHAPES = ((60, 60), (30, 30), (15, 15))
HEADS, POINTS, CHANNELS = 8, 4, 32


def make_inputs(batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of ReLA's encoder shapes for `batch` images."""
    generator = torch.Generator().manual_seed(seed)
    spatial_shapes = torch.tensor(LEVEL_SHAPES, dtype=torch.int64)
    sizes = spatial_shapes.prod(1)
    level_start_index = torch.cumsum(sizes, 0) - sizes
    spatial = int(sizes.sum())
    queries = spatial
    levels = len(LEVEL_SHAPES)
    value = torch.randn(batch, spatial, HEADS, CHANNELS, generator=generator)
    locations = torch.rand(batch, queries, HEADS, levels, POINTS, 2, generator=generator) * 1.1 - 0.05
    weights = torch.rand(batch, queries, HEADS, levels * POINTS, generator=generator).softmax(-1)
    weights = weights.view(batch, queries, HEADS, levels, POINTS)
    return value, spatial_shapes, level_start_index, locations, weights


def _timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def compare(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each function over `repeats` interleaved rounds (after one warm-up round)."""
    for function in functions.values():
        function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            times[name].append(_timed(function))
    return {name: statistics.median(values) for name, values in times.items()}


def run(batch: int, repeats: int) -> None:
    value, spatial_shapes, level_start_index, locations, weights = make_inputs(batch)

    def forward(backend: str) -> Callable[[], object]:
        def call() -> torch.Tensor:
            with torch.no_grad():
                if backend == "reference":
                    return ms_deform_attn_reference(value, spatial_shapes, locations, weights)
                return ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")

        return call

    grad_output = torch.randn(batch, value.shape[1], HEADS * CHANNELS, generator=torch.Generator().manual_seed(1))
    leaves = {"v": value, "l": locations, "w": weights}
    leaves = {name: tensor.clone().requires_grad_() for name, tensor in leaves.items()}

    def forward_backward(backend: str) -> Callable[[], object]:
        def call() -> tuple[torch.Tensor, ...]:
            v, l, w = leaves["v"], leaves["l"], leaves["w"]
            if backend == "reference":
                output = ms_deform_attn_reference(v, spatial_shapes, l, w)
            else:
                output = ms_deform_attn(v, spatial_shapes, level_start_index, l, w, backend="cpp")
            return torch.autograd.grad(output, (v, l, w), grad_output)

        return call

    times = compare(
        {
            "reference forward": forward("reference"),
            "cpp forward": forward("cpp"),
            "reference forward+backward": forward_backward("reference"),
            "cpp forward+backward": forward_backward("cpp"),
        },
        repeats,
    )
    reference_output = forward("reference")()
    cpp_output = forward("cpp")()
    reference_grads = forward_backward("reference")()
    cpp_grads = forward_backward("cpp")()
    print(
        f"batch {batch}: queries {value.shape[1]}, heads {HEADS}, levels {len(LEVEL_SHAPES)}, "
        f"points {POINTS}, channels {CHANNELS}"
    )
    for name, seconds in times.items():
        print(f"  {name:<28} {seconds * 1e3:8.2f} ms")
    print(f"  forward speed-up            {times['reference forward'] / times['cpp forward']:8.2f}x  (target >= 3x)")
    print(
        "  forward+backward speed-up   "
        f"{times['reference forward+backward'] / times['cpp forward+backward']:8.2f}x  (target >= 2x)"
    )
    print(f"  max |cpp - reference| output          {(cpp_output - reference_output).abs().max().item():.3e}")
    names = ("value", "sampling_locations", "attention_weights")
    for name, cpp_grad, reference_grad in zip(names, cpp_grads, reference_grads):
        difference = (cpp_grad - reference_grad).abs().max().item()
        scale = reference_grad.abs().max().item()
        print(f"  max |cpp - reference| grad {name:<18} {difference:.3e}  (max |grad| {scale:.3e})")
    # In float32 a sample whose pixel coordinate lies within rounding of an integer can land on the
    # other side of it in the two formulations (loc * W - 0.5 vs ((2 loc - 1) + 1) * W / 2 - 0.5),
    # where the bilinear slope jumps; float64 shows the kernels themselves agree.
    double = [tensor.double() for tensor in (value, locations, weights, grad_output)]
    leaves = [tensor.clone().requires_grad_() for tensor in double[:3]]
    reference_double = ms_deform_attn_reference(leaves[0], spatial_shapes, leaves[1], leaves[2])
    reference_double_grads = torch.autograd.grad(reference_double, leaves, double[3])
    cpp_double = ms_deform_attn(leaves[0], spatial_shapes, level_start_index, leaves[1], leaves[2], backend="cpp")
    cpp_double_grads = torch.autograd.grad(cpp_double, leaves, double[3])
    differences = [(cpp_double - reference_double).abs().max().item()]
    differences += [(got - want).abs().max().item() for got, want in zip(cpp_double_grads, reference_double_grads)]
    listed = ", ".join(f"{difference:.1e}" for difference in differences)
    print(f"  float64 max |cpp - reference| output, grads value/locations/weights: {listed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 2])
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    result = build_kernels()
    how = "compiled" if result.compiled else "loaded from cache"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"kernels {result.library} ({how} in {result.seconds:.1f} s)")
    for batch in arguments.batch:
        run(batch, arguments.repeats)


if __name__ == "__main__":
    main()
