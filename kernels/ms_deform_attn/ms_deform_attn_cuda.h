// Launchers of the CUDA kernels on raw device pointers; no torch headers, so nvcc compiles the
// kernels quickly and the tensor glue (ms_deform_attn_cuda.cpp) stays plain C++.
#pragma once

#include "bilinear_sampling.h"

#include <cuda_runtime_api.h>

namespace grefbench {
namespace ms_deform_attn {

// Writes every element of `output` [batch, queries, heads * channels].
template <typename scalar_t>
cudaError_t launch_forward(const Problem& problem, const scalar_t* value, const int64_t* spatial_shapes,
                           const int64_t* level_start_index, const scalar_t* locations, const scalar_t* weights,
                           scalar_t* output, cudaStream_t stream);

// Accumulates into `grad_value` (zero it first); writes every element of `grad_locations` and
// `grad_weights`.
template <typename scalar_t>
cudaError_t launch_backward(const Problem& problem, const scalar_t* value, const int64_t* spatial_shapes,
                            const int64_t* level_start_index, const scalar_t* locations, const scalar_t* weights,
                            const scalar_t* grad_output, scalar_t* grad_value, scalar_t* grad_locations,
                            scalar_t* grad_weights, cudaStream_t stream);

}  // namespace ms_deform_attn
}  // namespace grefbench
