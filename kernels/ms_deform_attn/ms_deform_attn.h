// Multi-scale deformable attention operators: sizes, contract checks and the per-device kernels.
//
// Shapes (Deformable-DETR): value [B, S, heads, C]; spatial_shapes [L, 2] int64 (H, W);
// level_start_index [L] int64; sampling_locations [B, Q, heads, L, P, 2] as (x, y) in [0, 1];
// attention_weights [B, Q, heads, L, P]; output [B, Q, heads * C].
#pragma once

#include "bilinear_sampling.h"

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <tuple>

namespace grefbench {
namespace ms_deform_attn {

// Checks the kernels' contract and returns the sizes. The Python wrapper validates user input
// with clear messages first, so a failure here means internal misuse.
inline Problem check_problem(const at::Tensor& value, const at::Tensor& spatial_shapes,
                             const at::Tensor& level_start_index, const at::Tensor& sampling_locations,
                             const at::Tensor& attention_weights) {
  TORCH_CHECK(value.dim() == 4, "ms_deform_attn: value must be [B, S, heads, C]");
  TORCH_CHECK(sampling_locations.dim() == 6, "ms_deform_attn: sampling_locations must be [B, Q, heads, L, P, 2]");
  TORCH_CHECK(attention_weights.dim() == 5, "ms_deform_attn: attention_weights must be [B, Q, heads, L, P]");
  const Problem problem{value.size(0),
                        value.size(1),
                        value.size(2),
                        value.size(3),
                        spatial_shapes.size(0),
                        sampling_locations.size(1),
                        sampling_locations.size(4)};
  TORCH_CHECK(spatial_shapes.dim() == 2 && spatial_shapes.size(1) == 2,
              "ms_deform_attn: spatial_shapes must be [L, 2]");
  TORCH_CHECK(level_start_index.dim() == 1 && level_start_index.size(0) == problem.levels,
              "ms_deform_attn: level_start_index must be [L]");
  TORCH_CHECK(sampling_locations.size(0) == problem.batch && sampling_locations.size(2) == problem.heads &&
                  sampling_locations.size(3) == problem.levels && sampling_locations.size(5) == 2,
              "ms_deform_attn: sampling_locations must be [B, Q, heads, L, P, 2]");
  TORCH_CHECK(attention_weights.size(0) == problem.batch && attention_weights.size(1) == problem.queries &&
                  attention_weights.size(2) == problem.heads && attention_weights.size(3) == problem.levels &&
                  attention_weights.size(4) == problem.points,
              "ms_deform_attn: attention_weights must be [B, Q, heads, L, P]");
  TORCH_CHECK(spatial_shapes.scalar_type() == at::kLong && level_start_index.scalar_type() == at::kLong,
              "ms_deform_attn: spatial_shapes and level_start_index must be int64");
  TORCH_CHECK(sampling_locations.scalar_type() == value.scalar_type() &&
                  attention_weights.scalar_type() == value.scalar_type(),
              "ms_deform_attn: value, sampling_locations and attention_weights must share one dtype");
  TORCH_CHECK(value.is_contiguous() && spatial_shapes.is_contiguous() && level_start_index.is_contiguous() &&
                  sampling_locations.is_contiguous() && attention_weights.is_contiguous(),
              "ms_deform_attn: all inputs must be contiguous");
  return problem;
}

at::Tensor forward_cpu(const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
                       const at::Tensor& sampling_locations, const at::Tensor& attention_weights);

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_cpu(
    const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations, const at::Tensor& attention_weights, const at::Tensor& grad_output);

// Defined in ms_deform_attn_cuda.cpp, compiled only when torch has CUDA.
at::Tensor forward_cuda(const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
                        const at::Tensor& sampling_locations, const at::Tensor& attention_weights);

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_cuda(
    const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations, const at::Tensor& attention_weights, const at::Tensor& grad_output);

}  // namespace ms_deform_attn
}  // namespace grefbench
