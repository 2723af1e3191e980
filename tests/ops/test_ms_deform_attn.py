"""ms_deform_attn: the C++ (and, where a GPU exists, CUDA) kernels against the grid_sample reference."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from grefbench.ops import KernelBuildError, build, ms_deform_attn, ms_deform_attn_reference
from grefbench.ops.ms_deform_attn import _resolve_backend

# name -> (batch, level shapes, heads, channels, queries, points, location range)
CASES = {
    "rela_like": (2, ((6, 6), (3, 3), (2, 2)), 2, 8, 7, 4, (0.0, 1.0)),
    "one_level": (1, ((5, 5),), 3, 4, 6, 2, (0.0, 1.0)),
    "non_square": (2, ((4, 9), (7, 3)), 2, 6, 5, 3, (0.0, 1.0)),
    "channels_not_power_of_two": (1, ((5, 6), (3, 2)), 2, 5, 4, 3, (0.0, 1.0)),
    "points_outside": (2, ((5, 4), (3, 3)), 2, 4, 9, 4, (-0.6, 1.6)),
}


def make_inputs(batch, level_shapes, heads, channels, queries, points, location_range, *, dtype, device="cpu", seed=0):
    """Random inputs in the Deformable-DETR layout (spatial shapes and start index included)."""
    generator = torch.Generator().manual_seed(seed)
    spatial_shapes = torch.tensor(level_shapes, dtype=torch.int64)
    sizes = spatial_shapes.prod(1)
    level_start_index = torch.cumsum(sizes, 0) - sizes
    levels = len(level_shapes)
    low, high = location_range
    value = torch.randn(batch, int(sizes.sum()), heads, channels, generator=generator, dtype=dtype)
    unit = torch.rand(batch, queries, heads, levels, points, 2, generator=generator, dtype=dtype)
    locations = low + (high - low) * unit
    weights = torch.rand(batch, queries, heads, levels, points, generator=generator, dtype=dtype)
    tensors = (value, spatial_shapes, level_start_index, locations, weights)
    return tuple(tensor.to(device) for tensor in tensors)


def reference_gradients(value, spatial_shapes, locations, weights, grad_output):
    leaves = [tensor.detach().clone().requires_grad_() for tensor in (value, locations, weights)]
    output = ms_deform_attn_reference(leaves[0], spatial_shapes, leaves[1], leaves[2])
    return torch.autograd.grad(output, leaves, grad_output)


def kernel_gradients(value, spatial_shapes, level_start_index, locations, weights, grad_output, backend):
    leaves = [tensor.detach().clone().requires_grad_() for tensor in (value, locations, weights)]
    output = ms_deform_attn(leaves[0], spatial_shapes, level_start_index, leaves[1], leaves[2], backend=backend)
    return torch.autograd.grad(output, leaves, grad_output)


@pytest.fixture(scope="module")
def cpp_kernels():
    """The compiled library (built on first use); skipped only where no compiler or ninja exists."""
    missing = build.missing_tools(build.build_device())
    if missing:
        pytest.skip(f"cannot build kernels here: missing {', '.join(missing)}")
    return build.build_kernels()


# Float32 differences come from rounding of the pixel coordinate (loc * W - 0.5 here, grid_sample's
# ((2 * loc - 1 + 1) * W - 1) / 2 there); float64 agrees to rounding.
TOLERANCES = {torch.float32: dict(rtol=1e-5, atol=2e-5), torch.float64: dict(rtol=1e-10, atol=1e-11)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cpp_forward_matches_reference(cpp_kernels, case, dtype):
    value, spatial_shapes, level_start_index, locations, weights = make_inputs(*CASES[case], dtype=dtype)
    output = ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")
    expected = ms_deform_attn_reference(value, spatial_shapes, locations, weights)
    assert output.shape == (value.shape[0], locations.shape[1], value.shape[2] * value.shape[3])
    assert output.dtype == dtype
    torch.testing.assert_close(output, expected, **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cpp_backward_matches_reference(cpp_kernels, case, dtype):
    value, spatial_shapes, level_start_index, locations, weights = make_inputs(*CASES[case], dtype=dtype, seed=1)
    batch, _, heads, channels = value.shape
    generator = torch.Generator().manual_seed(2)
    grad_output = torch.randn(batch, locations.shape[1], heads * channels, dtype=dtype, generator=generator)
    expected = reference_gradients(value, spatial_shapes, locations, weights, grad_output)
    actual = kernel_gradients(value, spatial_shapes, level_start_index, locations, weights, grad_output, "cpp")
    tolerance = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-9, atol=1e-10)}[dtype]
    for name, got, want in zip(("value", "sampling_locations", "attention_weights"), actual, expected):
        torch.testing.assert_close(got, want, **tolerance, msg=lambda message, name=name: f"grad {name}: {message}")


@pytest.mark.parametrize("case", ["rela_like", "non_square", "points_outside"])
def test_cpp_gradcheck(cpp_kernels, case):
    batch, level_shapes, heads, _, _, points, location_range = CASES[case]
    value, spatial_shapes, level_start_index, locations, weights = make_inputs(
        batch, level_shapes, heads, 3, 3, points, location_range, dtype=torch.float64, seed=3
    )
    inputs = [tensor.requires_grad_() for tensor in (value, locations, weights)]

    def function(value, locations, weights):
        return ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")

    assert torch.autograd.gradcheck(function, inputs, eps=1e-6, atol=1e-6)


def test_samples_outside_every_map_read_zero(cpp_kernels):
    value, spatial_shapes, level_start_index, locations, weights = make_inputs(*CASES["rela_like"], dtype=torch.float64)
    # Right of, below, left of, above every level (more than half a pixel of a 2x2 map out), and
    # far away (exercises the integer-range guard).
    corners = torch.tensor([[1.3, 0.5], [0.5, 1.3], [-0.3, 0.5], [0.5, -0.3]], dtype=torch.float64)
    locations = corners[torch.arange(locations[..., 0].numel()) % 4].view_as(locations)
    locations[0, 0] = 1e12
    grad_output = torch.ones(value.shape[0], locations.shape[1], value.shape[2] * value.shape[3], dtype=torch.float64)
    output = ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")
    assert torch.count_nonzero(output) == 0
    gradients = kernel_gradients(value, spatial_shapes, level_start_index, locations, weights, grad_output, "cpp")
    assert all(torch.count_nonzero(gradient) == 0 for gradient in gradients)


def test_samples_on_the_map_edge_match_reference(cpp_kernels):
    inputs = make_inputs(*CASES["non_square"], dtype=torch.float64)
    value, spatial_shapes, level_start_index, locations, weights = inputs
    # Exactly on pixel centres, on the border and half a pixel outside it (pixel coordinate -1 and W).
    edges = torch.tensor([0.0, 1.0, 0.5, -0.5 / 9, 1 + 0.5 / 9, 0.5 / 9], dtype=torch.float64)
    locations = edges[torch.arange(locations.numel()) % len(edges)].view_as(locations)
    grad_output = torch.randn(value.shape[0], locations.shape[1], value.shape[2] * value.shape[3], dtype=torch.float64)
    output = ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")
    torch.testing.assert_close(output, ms_deform_attn_reference(value, spatial_shapes, locations, weights))
    actual = kernel_gradients(value, spatial_shapes, level_start_index, locations, weights, grad_output, "cpp")
    expected = reference_gradients(value, spatial_shapes, locations, weights, grad_output)
    for got, want in zip(actual, expected):
        torch.testing.assert_close(got, want)


def test_inference_saves_nothing_and_matches(cpp_kernels):
    value, spatial_shapes, level_start_index, locations, weights = make_inputs(*CASES["rela_like"], dtype=torch.float32)
    value.requires_grad_()
    with_grad = ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")
    assert with_grad.grad_fn is not None
    with torch.no_grad():
        no_grad = ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")
    with torch.inference_mode():
        inference = ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")
    assert no_grad.grad_fn is None and inference.is_inference()
    torch.testing.assert_close(no_grad, with_grad.detach(), rtol=0, atol=0)
    torch.testing.assert_close(inference, with_grad.detach(), rtol=0, atol=0)


def test_reduced_precision_is_computed_in_float32(cpp_kernels):
    value, spatial_shapes, level_start_index, locations, weights = make_inputs(*CASES["one_level"], dtype=torch.float32)
    value, weights = value.bfloat16(), weights.bfloat16()
    output = ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")
    assert output.dtype == torch.float32  # promoted from bfloat16 and float32, as torch would
    expected = ms_deform_attn_reference(value.float(), spatial_shapes, locations, weights.float())
    torch.testing.assert_close(output, expected, **TOLERANCES[torch.float32])


def test_auto_prefers_the_compiled_kernel(cpp_kernels):
    assert _resolve_backend("auto", torch.device("cpu")) == "cpp"
    assert build.available_backends()[-2:] == ["cpp", "torch"]


def test_failed_build_warns_once_and_falls_back(monkeypatch, caplog):
    def failing_load(device, verbose):
        raise KernelBuildError("cannot build the grefbench kernels: missing a C++ compiler")

    monkeypatch.setattr(build, "_loaded", {})
    monkeypatch.setattr(build, "_failures", {})
    monkeypatch.setattr(build, "_warned", set())
    monkeypatch.setattr(build, "_load", failing_load)
    value, spatial_shapes, level_start_index, locations, weights = make_inputs(*CASES["one_level"], dtype=torch.float32)
    expected = ms_deform_attn_reference(value, spatial_shapes, locations, weights)
    with caplog.at_level(logging.WARNING, logger="grefbench.ops.build"):
        for _ in range(3):
            output = ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights)
            torch.testing.assert_close(output, expected, rtol=0, atol=0)
    assert len(caplog.records) == 1 and "falls back" in caplog.records[0].getMessage()
    with pytest.raises(KernelBuildError, match="missing a C\\+\\+ compiler"):
        ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cpp")


def test_invalid_inputs_raise_value_error():
    inputs = make_inputs(*CASES["non_square"], dtype=torch.float32)
    value, spatial_shapes, level_start_index, locations, weights = inputs
    with pytest.raises(ValueError, match="unknown backend"):
        ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="triton")
    with pytest.raises(ValueError, match="attention_weights has shape"):
        ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights[..., :1])
    with pytest.raises(ValueError, match="positions"):
        ms_deform_attn(value[:, 1:], spatial_shapes, level_start_index, locations, weights)
    with pytest.raises(ValueError, match="level_start_index"):
        ms_deform_attn(value, spatial_shapes, level_start_index.flip(0), locations, weights)
    with pytest.raises(ValueError, match="floating point"):
        ms_deform_attn(value.long(), spatial_shapes, level_start_index, locations, weights)
    with pytest.raises(ValueError, match="runs on cuda tensors"):
        ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cuda")


def test_build_folder_follows_cache_env_and_sources(monkeypatch, tmp_path):
    monkeypatch.setenv("GREFBENCH_CACHE_DIR", str(tmp_path / "cache"))
    directory = build.build_dir("cpu")
    assert directory.parent == tmp_path / "cache" / "kernels"
    assert directory.name.startswith("cpu-")
    changed = tmp_path / "kernels"
    shutil.copytree(build.kernel_source_dir(), changed)
    (changed / "ms_deform_attn" / "ms_deform_attn_cpu.cpp").write_text(
        (changed / "ms_deform_attn" / "ms_deform_attn_cpu.cpp").read_text() + "\n// edited\n"
    )
    monkeypatch.setattr(build, "kernel_source_dir", lambda: changed)
    assert build.build_dir("cpu") != directory
    assert not build.is_built("cpu")


_CONCURRENT_BUILD = textwrap.dedent(
    """
    import os
    import time
    import torch
    from grefbench.ops import build

    def fake_compile(device, directory, verbose, locked):
        log = directory.parent / "compiles.log"
        with open(log, "a") as handle:
            handle.write("start\\n")
        time.sleep(1.0)
        library = directory / "fake.so"
        library.write_bytes(b"")
        with open(log, "a") as handle:
            handle.write("end\\n")
        return library

    build._compile = fake_compile
    torch.ops.load_library = lambda path: None
    # Start building only once both processes are ready, so the builds really overlap.
    ready = build.cache_root() / f"ready-{os.getpid()}"
    ready.parent.mkdir(parents=True, exist_ok=True)
    ready.touch()
    while len(list(ready.parent.glob("ready-*"))) < 2:
        time.sleep(0.01)
    print(build.build_kernels().compiled)
    """
)


def test_concurrent_builds_of_one_cache_compile_once(tmp_path):
    environment = {**os.environ, "GREFBENCH_CACHE_DIR": str(tmp_path)}
    processes = [
        subprocess.Popen([sys.executable, "-c", _CONCURRENT_BUILD], env=environment, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = sorted(process.communicate(timeout=120)[0].strip() for process in processes)
    assert all(process.returncode == 0 for process in processes)
    assert outputs == ["False", "True"]
    assert (tmp_path / "kernels" / "compiles.log").read_text() == "start\nend\n"


def test_sampling_header_compiles_without_torch(tmp_path):
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler")
    program = tmp_path / "sample.cpp"
    program.write_text(
        '#include "bilinear_sampling.h"\n'
        "int main() {\n"
        "  grefbench::ms_deform_attn::BilinearCorners<float> corners;\n"
        "  const float value[4] = {1, 2, 3, 4};\n"
        "  if (!grefbench::ms_deform_attn::bilinear_corners(0.5f, 0.5f, 2, 2, corners)) return 1;\n"
        "  return grefbench::ms_deform_attn::sample_channel(value, 1, corners, 0) == 2.5f ? 0 : 2;\n"
        "}\n"
    )
    header_dir = build.kernel_source_dir() / "ms_deform_attn"
    executable = tmp_path / "sample"
    command = [compiler, "-std=c++11", "-Wall", "-Werror", f"-I{header_dir}", str(program), "-o", str(executable)]
    subprocess.run(command, check=True)
    assert subprocess.run([str(executable)]).returncode == 0


def _gpu_arch(nvcc: str) -> str:
    listed = subprocess.run([nvcc, "--list-gpu-arch"], capture_output=True, text=True).stdout.split()
    return "compute_80" if "compute_80" in listed or not listed else listed[0]


@pytest.mark.parametrize("source", ["ms_deform_attn_cuda.cu", "ms_deform_attn_cuda.cpp"])
def test_cuda_sources_compile_with_nvcc(tmp_path, source):
    """Keeps the CUDA build compiling where no GPU is: nvcc (one arch) against the installed torch headers.

    The .cu holds only the kernels; the .cpp tensor glue goes through nvcc to get its CUDA include paths.
    """
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not found")
    from torch.utils.cpp_extension import include_paths

    arch = _gpu_arch(nvcc)
    includes = include_paths()
    command = [
        nvcc, "-c", str(build.kernel_source_dir() / "ms_deform_attn" / source),
        "-o", str(tmp_path / f"{source}.o"),
        "-std=c++20", "--expt-relaxed-constexpr", "-Xcompiler", "-fPIC",
        f"-gencode=arch={arch},code={arch.replace('compute', 'sm')}",
        f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}",
        "-DTORCH_API_INCLUDE_EXTENSION_H", "-DTORCH_EXTENSION_NAME=grefbench_kernels_cuda",
        *(f"-I{path}" for path in includes),
    ]  # fmt: skip
    if not any((Path(path) / "c10/cuda/impl/cuda_cmake_macros.h").exists() for path in includes):
        command.append("-DC10_CUDA_NO_CMAKE_CONFIGURE_FILE")  # a CPU-only torch lacks this generated header
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    assert time.perf_counter() - start < 120


cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")


@cuda_only
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cuda_matches_cpp_and_reference(cpp_kernels, case, dtype):
    cpu_inputs = make_inputs(*CASES[case], dtype=dtype, seed=4)
    cuda_inputs = [tensor.cuda() for tensor in cpu_inputs]
    value = cpu_inputs[0]
    grad_output = torch.randn(value.shape[0], cpu_inputs[3].shape[1], value.shape[2] * value.shape[3], dtype=dtype)
    output = ms_deform_attn(*cuda_inputs, backend="cuda")
    torch.testing.assert_close(output.cpu(), ms_deform_attn(*cpu_inputs, backend="cpp"), **TOLERANCES[dtype])
    reference = ms_deform_attn_reference(cuda_inputs[0], cuda_inputs[1], cuda_inputs[3], cuda_inputs[4])
    torch.testing.assert_close(output, reference, **TOLERANCES[dtype])
    cuda_gradients = kernel_gradients(*cuda_inputs, grad_output.cuda(), "cuda")
    cpp_gradients = kernel_gradients(*cpu_inputs, grad_output, "cpp")
    tolerance = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-9, atol=1e-10)}[dtype]
    for got, want in zip(cuda_gradients, cpp_gradients):
        torch.testing.assert_close(got.cpu(), want, **tolerance)


@cuda_only
def test_cuda_gradcheck(cpp_kernels):
    value, spatial_shapes, level_start_index, locations, weights = make_inputs(
        2, ((4, 5), (2, 3)), 2, 3, 3, 2, (-0.2, 1.2), dtype=torch.float64, device="cuda", seed=5
    )
    inputs = [tensor.requires_grad_() for tensor in (value, locations, weights)]

    def function(value, locations, weights):
        return ms_deform_attn(value, spatial_shapes, level_start_index, locations, weights, backend="cuda")

    # atomicAdd makes value gradients order-dependent in the last bits, hence nondet_tol.
    assert torch.autograd.gradcheck(function, inputs, eps=1e-6, atol=1e-6, nondet_tol=1e-12)
