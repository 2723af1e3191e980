// CUDA kernels of multi-scale deformable attention (forward and backward).
//
// Each (batch, query, head) group is served by `lanes` consecutive threads of one warp (the
// channel count rounded up to a power of two, at most 32); a thread handles channels lane,
// lane + lanes, ... so any channel count works and reads of a pixel's channels coalesce.
// The backward pass reduces the per-channel partials of the location and weight gradients with
// warp shuffles inside the group, so one thread writes each of them; value gradients from
// different queries can hit the same pixel and use atomicAdd.
#include "ms_deform_attn_cuda.h"

#include <cuda_runtime.h>

namespace grefbench {
namespace ms_deform_attn {
namespace {

constexpr int kThreadsPerBlock = 256;
constexpr int kWarpSize = 32;
constexpr int64_t kMaxBlocks = 65535;

int lanes_for(int64_t channels) {
  int lanes = 1;
  while (lanes < channels && lanes < kWarpSize) lanes *= 2;
  return lanes;
}

// Sum over the `lanes` threads of an aligned power-of-two segment of the warp; every thread of
// the warp must call it (full-mask shuffles).
template <typename scalar_t>
__device__ __forceinline__ scalar_t segment_sum(scalar_t value, int lanes) {
  for (int offset = lanes / 2; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(0xffffffffu, value, offset);
  }
  return value;
}

template <typename scalar_t>
__global__ void forward_kernel(Problem problem, int lanes, const scalar_t* __restrict__ value,
                               const int64_t* __restrict__ spatial_shapes,
                               const int64_t* __restrict__ level_start_index,
                               const scalar_t* __restrict__ locations, const scalar_t* __restrict__ weights,
                               scalar_t* __restrict__ output) {
  const int64_t groups = problem.batch * problem.queries * problem.heads;
  const int64_t groups_per_block = blockDim.x / lanes;
  const int64_t pixel_stride = problem.heads * problem.channels;
  const int64_t samples_per_group = problem.levels * problem.points;
  const int lane = threadIdx.x % lanes;
  for (int64_t group = blockIdx.x * groups_per_block + threadIdx.x / lanes; group < groups;
       group += static_cast<int64_t>(gridDim.x) * groups_per_block) {
    const int64_t head = group % problem.heads;
    const int64_t batch = group / (problem.queries * problem.heads);
    const scalar_t* value_batch = value + batch * problem.spatial * pixel_stride + head * problem.channels;
    for (int64_t channel = lane; channel < problem.channels; channel += lanes) {
      const scalar_t* location = locations + group * samples_per_group * 2;
      const scalar_t* weight = weights + group * samples_per_group;
      scalar_t sum = 0;
      BilinearCorners<scalar_t> corners;
      for (int64_t level = 0; level < problem.levels; ++level) {
        const int64_t height = spatial_shapes[2 * level];
        const int64_t width = spatial_shapes[2 * level + 1];
        const scalar_t* level_value = value_batch + level_start_index[level] * pixel_stride;
        for (int64_t point = 0; point < problem.points; ++point, location += 2, ++weight) {
          if (bilinear_corners(location[0], location[1], height, width, corners)) {
            sum += *weight * sample_channel(level_value, pixel_stride, corners, channel);
          }
        }
      }
      output[group * problem.channels + channel] = sum;
    }
  }
}

template <typename scalar_t>
__global__ void backward_kernel(Problem problem, int lanes, const scalar_t* __restrict__ value,
                                const int64_t* __restrict__ spatial_shapes,
                                const int64_t* __restrict__ level_start_index, const scalar_t* __restrict__ locations,
                                const scalar_t* __restrict__ weights, const scalar_t* __restrict__ grad_output,
                                scalar_t* __restrict__ grad_value, scalar_t* __restrict__ grad_locations,
                                scalar_t* __restrict__ grad_weights) {
  const int64_t groups = problem.batch * problem.queries * problem.heads;
  const int64_t groups_per_block = blockDim.x / lanes;
  const int64_t pixel_stride = problem.heads * problem.channels;
  const int lane = threadIdx.x % lanes;
  // The loop bound is the same for the whole block, so every thread reaches every shuffle.
  for (int64_t first = blockIdx.x * groups_per_block; first < groups;
       first += static_cast<int64_t>(gridDim.x) * groups_per_block) {
    const int64_t own_group = first + threadIdx.x / lanes;
    const bool active = own_group < groups;
    // Idle threads shadow a real group so their reads stay in bounds; they never write.
    const int64_t group = active ? own_group : groups - 1;
    const int64_t head = group % problem.heads;
    const int64_t batch = group / (problem.queries * problem.heads);
    const int64_t batch_offset = batch * problem.spatial * pixel_stride + head * problem.channels;
    const scalar_t* grad_row = grad_output + group * problem.channels;
    BilinearCorners<scalar_t> corners;
    for (int64_t level = 0; level < problem.levels; ++level) {
      const int64_t height = spatial_shapes[2 * level];
      const int64_t width = spatial_shapes[2 * level + 1];
      const int64_t level_offset = batch_offset + level_start_index[level] * pixel_stride;
      for (int64_t point = 0; point < problem.points; ++point) {
        const int64_t sample = (group * problem.levels + level) * problem.points + point;
        const scalar_t weight = weights[sample];
        const bool inside =
            bilinear_corners(locations[2 * sample], locations[2 * sample + 1], height, width, corners);
        scalar_t partial_sampled = 0, partial_x = 0, partial_y = 0;
        if (inside) {
          for (int64_t channel = lane; channel < problem.channels; channel += lanes) {
            const scalar_t grad = grad_row[channel];
            for (int corner = 0; corner < kCorners; ++corner) {
              if (corners.pixel[corner] < 0) continue;
              const int64_t offset = level_offset + corners.pixel[corner] * pixel_stride + channel;
              const scalar_t product = grad * value[offset];
              partial_sampled += corners.weight[corner] * product;
              partial_x += corners.weight_dx[corner] * product;
              partial_y += corners.weight_dy[corner] * product;
              if (active) atomicAdd(grad_value + offset, weight * corners.weight[corner] * grad);
            }
          }
        }
        const scalar_t sampled = segment_sum(partial_sampled, lanes);
        const scalar_t slope_x = segment_sum(partial_x, lanes);
        const scalar_t slope_y = segment_sum(partial_y, lanes);
        if (active && lane == 0) {
          grad_weights[sample] = inside ? sampled : scalar_t(0);
          grad_locations[2 * sample] = inside ? weight * static_cast<scalar_t>(width) * slope_x : scalar_t(0);
          grad_locations[2 * sample + 1] = inside ? weight * static_cast<scalar_t>(height) * slope_y : scalar_t(0);
        }
      }
    }
  }
}

int64_t blocks_for(int64_t groups, int lanes) {
  const int64_t groups_per_block = kThreadsPerBlock / lanes;
  const int64_t blocks = (groups + groups_per_block - 1) / groups_per_block;
  return blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks);
}

}  // namespace

template <typename scalar_t>
cudaError_t launch_forward(const Problem& problem, const scalar_t* value, const int64_t* spatial_shapes,
                           const int64_t* level_start_index, const scalar_t* locations, const scalar_t* weights,
                           scalar_t* output, cudaStream_t stream) {
  const int64_t groups = problem.batch * problem.queries * problem.heads;
  if (groups == 0 || problem.channels == 0) return cudaSuccess;
  const int lanes = lanes_for(problem.channels);
  forward_kernel<scalar_t><<<blocks_for(groups, lanes), kThreadsPerBlock, 0, stream>>>(
      problem, lanes, value, spatial_shapes, level_start_index, locations, weights, output);
  return cudaGetLastError();
}

template <typename scalar_t>
cudaError_t launch_backward(const Problem& problem, const scalar_t* value, const int64_t* spatial_shapes,
                            const int64_t* level_start_index, const scalar_t* locations, const scalar_t* weights,
                            const scalar_t* grad_output, scalar_t* grad_value, scalar_t* grad_locations,
                            scalar_t* grad_weights, cudaStream_t stream) {
  const int64_t groups = problem.batch * problem.queries * problem.heads;
  if (groups == 0) return cudaSuccess;
  if (problem.channels == 0) {  // no channel thread would write the location and weight gradients
    const size_t samples = groups * problem.levels * problem.points;
    cudaError_t status = cudaMemsetAsync(grad_locations, 0, 2 * samples * sizeof(scalar_t), stream);
    return status != cudaSuccess ? status : cudaMemsetAsync(grad_weights, 0, samples * sizeof(scalar_t), stream);
  }
  const int lanes = lanes_for(problem.channels);
  backward_kernel<scalar_t><<<blocks_for(groups, lanes), kThreadsPerBlock, 0, stream>>>(
      problem, lanes, value, spatial_shapes, level_start_index, locations, weights, grad_output, grad_value,
      grad_locations, grad_weights);
  return cudaGetLastError();
}

#define GREFBENCH_INSTANTIATE(scalar_t)                                                                          \
  template cudaError_t launch_forward<scalar_t>(const Problem&, const scalar_t*, const int64_t*, const int64_t*, \
                                                const scalar_t*, const scalar_t*, scalar_t*, cudaStream_t);      \
  template cudaError_t launch_backward<scalar_t>(const Problem&, const scalar_t*, const int64_t*, const int64_t*, \
                                                 const scalar_t*, const scalar_t*, const scalar_t*, scalar_t*,    \
                                                 scalar_t*, scalar_t*, cudaStream_t);
GREFBENCH_INSTANTIATE(float)
GREFBENCH_INSTANTIATE(double)
#undef GREFBENCH_INSTANTIATE

}  // namespace ms_deform_attn
}  // namespace grefbench
