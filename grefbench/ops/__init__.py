"""Custom operators: multi-scale deformable attention with torch, C++ (CPU) and CUDA backends."""

from grefbench.ops.ms_deform_attn import ms_deform_attn, ms_deform_attn_reference

__all__ = ["ms_deform_attn", "ms_deform_attn_reference"]
