"""Custom operators: multi-scale deformable attention with torch, C++ (CPU) and CUDA backends."""

from grefbench.ops.build import KernelBuildError, available_backends, build_kernels
from grefbench.ops.ms_deform_attn import ms_deform_attn, ms_deform_attn_reference

__all__ = ["KernelBuildError", "available_backends", "build_kernels", "ms_deform_attn", "ms_deform_attn_reference"]
