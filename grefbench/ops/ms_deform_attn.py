"""Multi-scale deformable attention (Deformable-DETR semantics) and its backend dispatch.

Shapes: value [B, S, heads, C]; spatial_shapes [L, 2] (H, W) int64; level_start_index [L];
sampling_locations [B, Q, heads, L, P, 2] as (x, y) in [0, 1]; attention_weights
[B, Q, heads, L, P]. Output [B, Q, heads * C]. Samples outside a map read zeros.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from grefbench.ops import build

BACKENDS = ("auto", "cpp", "cuda", "torch")


def ms_deform_attn_reference(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """Pure PyTorch formulation with `grid_sample` (the official code's fallback path)."""
    batch, _, heads, channels = value.shape
    _, queries, _, levels, points, _ = sampling_locations.shape
    sizes = [int(h) * int(w) for h, w in spatial_shapes.tolist()]
    value_levels = value.split(sizes, dim=1)
    grids = 2 * sampling_locations - 1
    sampled = []
    for level, (height, width) in enumerate(spatial_shapes.tolist()):
        # [B, H*W, heads, C] -> [B*heads, C, H, W]
        value_map = value_levels[level].flatten(2).transpose(1, 2).reshape(batch * heads, channels, height, width)
        # [B, Q, heads, P, 2] -> [B*heads, Q, P, 2]
        grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        sampled.append(F.grid_sample(value_map, grid, mode="bilinear", padding_mode="zeros", align_corners=False))
    weights = attention_weights.transpose(1, 2).reshape(batch * heads, 1, queries, levels * points)
    output = (torch.stack(sampled, dim=-2).flatten(-2) * weights).sum(-1)
    return output.view(batch, heads * channels, queries).transpose(1, 2).contiguous()


class _CompiledMSDeformAttn(torch.autograd.Function):
    """Autograd over the compiled kernels (CPU or CUDA, chosen by the dispatcher from the device)."""

    @staticmethod
    def forward(ctx, value, spatial_shapes, level_start_index, sampling_locations, attention_weights):
        ctx.save_for_backward(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
        return torch.ops.grefbench.ms_deform_attn_forward(
            value, spatial_shapes, level_start_index, sampling_locations, attention_weights
        )

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        grad_value, grad_locations, grad_weights = torch.ops.grefbench.ms_deform_attn_backward(
            *ctx.saved_tensors, grad_output.contiguous()
        )
        return (
            grad_value if ctx.needs_input_grad[0] else None,
            None,
            None,
            grad_locations if ctx.needs_input_grad[3] else None,
            grad_weights if ctx.needs_input_grad[4] else None,
        )


def _validate(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> None:
    """Raise ValueError unless the inputs have the Deformable-DETR shapes, dtypes and devices."""
    if value.dim() != 4:
        raise ValueError(f"ms_deform_attn: value must be [B, S, heads, C], got shape {tuple(value.shape)}")
    batch, spatial, heads, _ = value.shape
    if spatial_shapes.dim() != 2 or spatial_shapes.shape[1] != 2:
        raise ValueError(f"ms_deform_attn: spatial_shapes must be [L, 2], got shape {tuple(spatial_shapes.shape)}")
    levels = spatial_shapes.shape[0]
    if level_start_index.shape != (levels,):
        raise ValueError(
            f"ms_deform_attn: level_start_index must be [L] = [{levels}], got shape {tuple(level_start_index.shape)}"
        )
    if sampling_locations.dim() != 6 or sampling_locations.shape[5] != 2:
        raise ValueError(
            "ms_deform_attn: sampling_locations must be [B, Q, heads, L, P, 2], "
            f"got shape {tuple(sampling_locations.shape)}"
        )
    _, queries, _, _, points, _ = sampling_locations.shape
    expected = (batch, queries, heads, levels, points)
    if tuple(sampling_locations.shape[:5]) != expected:
        raise ValueError(
            f"ms_deform_attn: sampling_locations has shape {tuple(sampling_locations.shape)}, "
            f"expected {(*expected, 2)} from value {tuple(value.shape)} and {levels} levels"
        )
    if tuple(attention_weights.shape) != expected:
        raise ValueError(
            f"ms_deform_attn: attention_weights has shape {tuple(attention_weights.shape)}, expected {expected}"
        )
    for name, tensor in (("spatial_shapes", spatial_shapes), ("level_start_index", level_start_index)):
        if tensor.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"ms_deform_attn: {name} must be an integer tensor, got {tensor.dtype}")
    for name, tensor in (
        ("value", value),
        ("sampling_locations", sampling_locations),
        ("attention_weights", attention_weights),
    ):
        if not tensor.is_floating_point():
            raise ValueError(f"ms_deform_attn: {name} must be floating point, got {tensor.dtype}")
        if tensor.device != value.device:
            raise ValueError(f"ms_deform_attn: {name} is on {tensor.device} but value is on {value.device}")
    # The level table is checked where it costs no device synchronisation (CPU tensors).
    if spatial_shapes.device.type == "cpu" and level_start_index.device.type == "cpu":
        sizes = spatial_shapes.prod(dim=1)
        if levels and int(spatial_shapes.min()) <= 0:
            raise ValueError(f"ms_deform_attn: spatial_shapes must be positive, got {spatial_shapes.tolist()}")
        if int(sizes.sum()) != spatial:
            raise ValueError(
                f"ms_deform_attn: value has {spatial} positions but spatial_shapes {spatial_shapes.tolist()} "
                f"cover {int(sizes.sum())}"
            )
        starts = torch.cumsum(sizes, 0) - sizes
        if not torch.equal(level_start_index.to(starts.dtype), starts):
            raise ValueError(
                f"ms_deform_attn: level_start_index {level_start_index.tolist()} does not match "
                f"spatial_shapes (expected {starts.tolist()})"
            )


def _resolve_backend(backend: str, device: torch.device) -> str:
    """The backend that will run: the requested one, or for "auto" the fastest usable one."""
    if backend not in BACKENDS:
        raise ValueError(f"ms_deform_attn: unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return backend
    if backend == "auto":
        if device.type not in ("cpu", "cuda") or not build.kernels_ready():
            return "torch"
        if device.type == "cuda":
            return "cuda" if build.build_device() == "cuda" else "torch"
        return "cpp"
    wanted_device = "cpu" if backend == "cpp" else "cuda"
    if device.type != wanted_device:
        raise ValueError(f"ms_deform_attn: backend {backend!r} runs on {wanted_device} tensors, got {device.type}")
    build.build_kernels()  # raises KernelBuildError with the reason
    return backend


def ms_deform_attn(
    value: torch.Tensor,
    spatial_shapes: torch.Tensor,
    level_start_index: torch.Tensor,
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
    *,
    backend: str = "auto",
) -> torch.Tensor:
    """Multi-scale deformable attention; `backend` is "auto", "cpp", "cuda" or "torch".

    "auto" picks the CUDA kernel for GPU tensors, the C++ kernel for CPU tensors (compiling it on
    first use, then cached per torch install) and falls back to the PyTorch reference, with one
    logged warning, when the kernels cannot be built; an explicit "cpp" or "cuda" raises
    KernelBuildError instead. The compiled kernels compute in float32 or float64: half-precision
    inputs are computed in float32 and the result cast to the inputs' promoted dtype. Under
    no_grad/inference_mode nothing is saved for backward.
    """
    _validate(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
    chosen = _resolve_backend(backend, value.device)
    dtype = torch.promote_types(torch.promote_types(value.dtype, sampling_locations.dtype), attention_weights.dtype)
    compute_dtype = dtype if chosen == "torch" or dtype in (torch.float32, torch.float64) else torch.float32
    value, sampling_locations, attention_weights = (
        tensor.to(compute_dtype).contiguous() for tensor in (value, sampling_locations, attention_weights)
    )
    if chosen == "torch":
        return ms_deform_attn_reference(value, spatial_shapes, sampling_locations, attention_weights)
    spatial_shapes = spatial_shapes.to(device=value.device, dtype=torch.int64).contiguous()
    level_start_index = level_start_index.to(device=value.device, dtype=torch.int64).contiguous()
    inputs = (value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
    needs_grad = torch.is_grad_enabled() and any(
        tensor.requires_grad for tensor in (value, sampling_locations, attention_weights)
    )
    if needs_grad:
        output = _CompiledMSDeformAttn.apply(*inputs)
    else:
        output = torch.ops.grefbench.ms_deform_attn_forward(*inputs)
    return output.to(dtype)
