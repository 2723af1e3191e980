// Tensor glue of the CUDA kernels: contract checks, allocation, stream, dtype dispatch.
// Compiled (by the host compiler) only into CUDA builds; the kernels are in ms_deform_attn_cuda.cu.
#include "ms_deform_attn.h"
#include "ms_deform_attn_cuda.h"

#include <ATen/Dispatch.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros_like.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

namespace grefbench {
namespace ms_deform_attn {
namespace {

Problem check_cuda(const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
                   const at::Tensor& sampling_locations, const at::Tensor& attention_weights) {
  const Problem problem =
      check_problem(value, spatial_shapes, level_start_index, sampling_locations, attention_weights);
  for (const at::Tensor* tensor : {&spatial_shapes, &level_start_index, &sampling_locations, &attention_weights}) {
    TORCH_CHECK(tensor->is_cuda() && tensor->device() == value.device(),
                "ms_deform_attn: every input must be a CUDA tensor on value's device (", value.device(), ")");
  }
  TORCH_CHECK(value.is_cuda(), "ms_deform_attn: value must be a CUDA tensor for the CUDA kernel");
  return problem;
}

}  // namespace

at::Tensor forward_cuda(const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
                        const at::Tensor& sampling_locations, const at::Tensor& attention_weights) {
  const Problem problem = check_cuda(value, spatial_shapes, level_start_index, sampling_locations, attention_weights);
  const c10::cuda::CUDAGuard device_guard(value.device());
  at::Tensor output =
      at::empty({problem.batch, problem.queries, problem.heads * problem.channels}, value.options());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_forward_cuda", [&] {
    C10_CUDA_CHECK(launch_forward<scalar_t>(
        problem, value.data_ptr<scalar_t>(), spatial_shapes.data_ptr<int64_t>(), level_start_index.data_ptr<int64_t>(),
        sampling_locations.data_ptr<scalar_t>(), attention_weights.data_ptr<scalar_t>(), output.data_ptr<scalar_t>(),
        stream));
  });
  return output;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_cuda(
    const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations, const at::Tensor& attention_weights, const at::Tensor& grad_output) {
  const Problem problem = check_cuda(value, spatial_shapes, level_start_index, sampling_locations, attention_weights);
  TORCH_CHECK(grad_output.is_cuda() && grad_output.device() == value.device() && grad_output.is_contiguous() &&
                  grad_output.scalar_type() == value.scalar_type() &&
                  grad_output.numel() == problem.batch * problem.queries * problem.heads * problem.channels,
              "ms_deform_attn: grad_output must be a contiguous [B, Q, heads * C] CUDA tensor of value's dtype");
  const c10::cuda::CUDAGuard device_guard(value.device());
  at::Tensor grad_value = at::zeros_like(value);
  // The kernel writes every sample's location and weight gradient exactly once.
  at::Tensor grad_locations = at::empty_like(sampling_locations);
  at::Tensor grad_weights = at::empty_like(attention_weights);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_backward_cuda", [&] {
    C10_CUDA_CHECK(launch_backward<scalar_t>(
        problem, value.data_ptr<scalar_t>(), spatial_shapes.data_ptr<int64_t>(), level_start_index.data_ptr<int64_t>(),
        sampling_locations.data_ptr<scalar_t>(), attention_weights.data_ptr<scalar_t>(),
        grad_output.data_ptr<scalar_t>(), grad_value.data_ptr<scalar_t>(), grad_locations.data_ptr<scalar_t>(),
        grad_weights.data_ptr<scalar_t>(), stream));
  });
  return {grad_value, grad_locations, grad_weights};
}

}  // namespace ms_deform_attn
}  // namespace grefbench

TORCH_LIBRARY_IMPL(grefbench, CUDA, m) {
  m.impl("ms_deform_attn_forward", &grefbench::ms_deform_attn::forward_cuda);
  m.impl("ms_deform_attn_backward", &grefbench::ms_deform_attn::backward_cuda);
}
