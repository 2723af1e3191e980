// CPU kernels of multi-scale deformable attention (forward and backward), multi-threaded.
//
// Every loop over channels is contiguous (value is [B, S, heads, C]) and written so the compiler
// vectorises it. Corners outside the map read from a zero row and write to a scratch row, which
// keeps the channel loops free of branches. The backward pass splits work by (batch, head, level):
// each task owns a disjoint slice of grad_value and of the location/weight gradients, so threads
// never write the same memory and no atomics are needed.
#include "bilinear_sampling.h"
#include "ms_deform_attn.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/zeros_like.h>
#include <torch/library.h>

#include <vector>

namespace grefbench {
namespace ms_deform_attn {
namespace {

struct Level {
  int64_t height;
  int64_t width;
  int64_t start;
};

std::vector<Level> read_levels(const at::Tensor& spatial_shapes, const at::Tensor& level_start_index, int64_t spatial) {
  TORCH_CHECK(spatial_shapes.device().is_cpu() && level_start_index.device().is_cpu(),
              "ms_deform_attn: spatial_shapes and level_start_index must be CPU tensors for the CPU kernel");
  const int64_t* shapes = spatial_shapes.data_ptr<int64_t>();
  const int64_t* starts = level_start_index.data_ptr<int64_t>();
  std::vector<Level> levels(spatial_shapes.size(0));
  for (size_t index = 0; index < levels.size(); ++index) {
    levels[index] = Level{shapes[2 * index], shapes[2 * index + 1], starts[index]};
    const Level& level = levels[index];
    TORCH_CHECK(level.height > 0 && level.width > 0 && level.start >= 0 &&
                    level.start + level.height * level.width <= spatial,
                "ms_deform_attn: level ", index, " does not fit in the ", spatial, " value positions");
  }
  return levels;
}

// out[c] += sum over corners of coefficient[k] * row[k][c].
template <typename scalar_t>
inline void accumulate_corners(scalar_t* __restrict__ out, const scalar_t* const* rows, const scalar_t* coefficient,
                               int64_t channels) {
  const scalar_t* __restrict__ row0 = rows[0];
  const scalar_t* __restrict__ row1 = rows[1];
  const scalar_t* __restrict__ row2 = rows[2];
  const scalar_t* __restrict__ row3 = rows[3];
  const scalar_t c0 = coefficient[0], c1 = coefficient[1], c2 = coefficient[2], c3 = coefficient[3];
#pragma omp simd
  for (int64_t c = 0; c < channels; ++c) {
    out[c] += c0 * row0[c] + c1 * row1[c] + c2 * row2[c] + c3 * row3[c];
  }
}

// dot[k] = <grad, row[k]> and grad_row[k] += scale[k] * grad, in one pass over the channels.
template <typename scalar_t>
inline void backprop_corners(const scalar_t* __restrict__ grad, const scalar_t* const* rows, scalar_t* const* grad_rows,
                             const scalar_t* scale, int64_t channels, scalar_t* dot) {
  const scalar_t* __restrict__ row0 = rows[0];
  const scalar_t* __restrict__ row1 = rows[1];
  const scalar_t* __restrict__ row2 = rows[2];
  const scalar_t* __restrict__ row3 = rows[3];
  scalar_t* grad_row0 = grad_rows[0];
  scalar_t* grad_row1 = grad_rows[1];
  scalar_t* grad_row2 = grad_rows[2];
  scalar_t* grad_row3 = grad_rows[3];
  const scalar_t s0 = scale[0], s1 = scale[1], s2 = scale[2], s3 = scale[3];
  scalar_t d0 = 0, d1 = 0, d2 = 0, d3 = 0;
#pragma omp simd reduction(+ : d0, d1, d2, d3)
  for (int64_t c = 0; c < channels; ++c) {
    const scalar_t g = grad[c];
    d0 += g * row0[c];
    d1 += g * row1[c];
    d2 += g * row2[c];
    d3 += g * row3[c];
    grad_row0[c] += s0 * g;
    grad_row1[c] += s1 * g;
    grad_row2[c] += s2 * g;
    grad_row3[c] += s3 * g;
  }
  dot[0] = d0;
  dot[1] = d1;
  dot[2] = d2;
  dot[3] = d3;
}

template <typename scalar_t>
void forward_kernel(const Problem& problem, const std::vector<Level>& levels, const scalar_t* value,
                    const scalar_t* locations, const scalar_t* weights, scalar_t* output) {
  const int64_t channels = problem.channels;
  const int64_t pixel_stride = problem.heads * channels;
  const int64_t samples_per_row = problem.levels * problem.points;
  at::parallel_for(0, problem.batch * problem.queries, 16, [&](int64_t begin, int64_t end) {
    const std::vector<scalar_t> zero_row(channels, scalar_t(0));
    const scalar_t* rows[kCorners];
    scalar_t coefficient[kCorners];
    BilinearCorners<scalar_t> corners;
    for (int64_t query_row = begin; query_row < end; ++query_row) {
      const scalar_t* value_batch = value + (query_row / problem.queries) * problem.spatial * pixel_stride;
      for (int64_t head = 0; head < problem.heads; ++head) {
        const int64_t row = query_row * problem.heads + head;  // index over [B, Q, heads]
        scalar_t* out = output + row * channels;
        const scalar_t* location = locations + row * samples_per_row * 2;
        const scalar_t* weight = weights + row * samples_per_row;
        for (int64_t c = 0; c < channels; ++c) out[c] = 0;
        for (const Level& level : levels) {
          const scalar_t* level_value = value_batch + level.start * pixel_stride + head * channels;
          for (int64_t point = 0; point < problem.points; ++point, location += 2, ++weight) {
            if (!bilinear_corners(location[0], location[1], level.height, level.width, corners)) continue;
            for (int k = 0; k < kCorners; ++k) {
              const bool inside = corners.pixel[k] >= 0;
              rows[k] = inside ? level_value + corners.pixel[k] * pixel_stride : zero_row.data();
              coefficient[k] = *weight * corners.weight[k];
            }
            accumulate_corners(out, rows, coefficient, channels);
          }
        }
      }
    }
  });
}

template <typename scalar_t>
void backward_kernel(const Problem& problem, const std::vector<Level>& levels, const scalar_t* value,
                     const scalar_t* locations, const scalar_t* weights, const scalar_t* grad_output,
                     scalar_t* grad_value, scalar_t* grad_locations, scalar_t* grad_weights) {
  const int64_t channels = problem.channels;
  const int64_t pixel_stride = problem.heads * channels;
  const int64_t tasks = problem.batch * problem.heads * problem.levels;
  at::parallel_for(0, tasks, 1, [&](int64_t begin, int64_t end) {
    const std::vector<scalar_t> zero_row(channels, scalar_t(0));
    std::vector<scalar_t> scratch_row(channels, scalar_t(0));
    const scalar_t* rows[kCorners];
    scalar_t* grad_rows[kCorners];
    scalar_t scale[kCorners];
    scalar_t dot[kCorners];
    BilinearCorners<scalar_t> corners;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t batch = task / (problem.heads * problem.levels);
      const int64_t head = (task / problem.levels) % problem.heads;
      const int64_t level_index = task % problem.levels;
      const Level& level = levels[level_index];
      const int64_t level_offset = (batch * problem.spatial + level.start) * pixel_stride + head * channels;
      const scalar_t* level_value = value + level_offset;
      scalar_t* level_grad = grad_value + level_offset;
      for (int64_t query = 0; query < problem.queries; ++query) {
        const int64_t row = (batch * problem.queries + query) * problem.heads + head;
        const scalar_t* grad = grad_output + row * channels;
        const int64_t first_sample = (row * problem.levels + level_index) * problem.points;
        for (int64_t sample = first_sample; sample < first_sample + problem.points; ++sample) {
          const scalar_t* location = locations + 2 * sample;
          scalar_t* grad_location = grad_locations + 2 * sample;
          if (!bilinear_corners(location[0], location[1], level.height, level.width, corners)) {
            grad_location[0] = 0;
            grad_location[1] = 0;
            grad_weights[sample] = 0;
            continue;
          }
          const scalar_t weight = weights[sample];
          for (int k = 0; k < kCorners; ++k) {
            const bool inside = corners.pixel[k] >= 0;
            rows[k] = inside ? level_value + corners.pixel[k] * pixel_stride : zero_row.data();
            grad_rows[k] = inside ? level_grad + corners.pixel[k] * pixel_stride : scratch_row.data();
            scale[k] = weight * corners.weight[k];
          }
          backprop_corners(grad, rows, grad_rows, scale, channels, dot);
          scalar_t sampled = 0, slope_x = 0, slope_y = 0;
          for (int k = 0; k < kCorners; ++k) {
            sampled += corners.weight[k] * dot[k];
            slope_x += corners.weight_dx[k] * dot[k];
            slope_y += corners.weight_dy[k] * dot[k];
          }
          grad_weights[sample] = sampled;
          grad_location[0] = weight * static_cast<scalar_t>(level.width) * slope_x;
          grad_location[1] = weight * static_cast<scalar_t>(level.height) * slope_y;
        }
      }
    }
  });
}

void check_cpu(const at::Tensor& tensor, const char* name) {
  TORCH_CHECK(tensor.device().is_cpu(), "ms_deform_attn: ", name, " must be a CPU tensor for the CPU kernel");
}

}  // namespace

at::Tensor forward_cpu(const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
                       const at::Tensor& sampling_locations, const at::Tensor& attention_weights) {
  const Problem problem =
      check_problem(value, spatial_shapes, level_start_index, sampling_locations, attention_weights);
  check_cpu(value, "value");
  check_cpu(sampling_locations, "sampling_locations");
  check_cpu(attention_weights, "attention_weights");
  const std::vector<Level> levels = read_levels(spatial_shapes, level_start_index, problem.spatial);
  at::Tensor output =
      at::empty({problem.batch, problem.queries, problem.heads * problem.channels}, value.options());
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_forward_cpu", [&] {
    forward_kernel<scalar_t>(problem, levels, value.data_ptr<scalar_t>(), sampling_locations.data_ptr<scalar_t>(),
                             attention_weights.data_ptr<scalar_t>(), output.data_ptr<scalar_t>());
  });
  return output;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_cpu(
    const at::Tensor& value, const at::Tensor& spatial_shapes, const at::Tensor& level_start_index,
    const at::Tensor& sampling_locations, const at::Tensor& attention_weights, const at::Tensor& grad_output) {
  const Problem problem =
      check_problem(value, spatial_shapes, level_start_index, sampling_locations, attention_weights);
  check_cpu(value, "value");
  check_cpu(sampling_locations, "sampling_locations");
  check_cpu(attention_weights, "attention_weights");
  check_cpu(grad_output, "grad_output");
  TORCH_CHECK(grad_output.is_contiguous() && grad_output.scalar_type() == value.scalar_type() &&
                  grad_output.numel() == problem.batch * problem.queries * problem.heads * problem.channels,
              "ms_deform_attn: grad_output must be a contiguous [B, Q, heads * C] tensor of value's dtype");
  const std::vector<Level> levels = read_levels(spatial_shapes, level_start_index, problem.spatial);
  at::Tensor grad_value = at::zeros_like(value);
  // Every sample's location and weight gradient is written exactly once.
  at::Tensor grad_locations = at::empty_like(sampling_locations);
  at::Tensor grad_weights = at::empty_like(attention_weights);
  AT_DISPATCH_FLOATING_TYPES(value.scalar_type(), "ms_deform_attn_backward_cpu", [&] {
    backward_kernel<scalar_t>(problem, levels, value.data_ptr<scalar_t>(), sampling_locations.data_ptr<scalar_t>(),
                              attention_weights.data_ptr<scalar_t>(), grad_output.data_ptr<scalar_t>(),
                              grad_value.data_ptr<scalar_t>(), grad_locations.data_ptr<scalar_t>(),
                              grad_weights.data_ptr<scalar_t>());
  });
  return {grad_value, grad_locations, grad_weights};
}

}  // namespace ms_deform_attn
}  // namespace grefbench

TORCH_LIBRARY_IMPL(grefbench, CPU, m) {
  m.impl("ms_deform_attn_forward", &grefbench::ms_deform_attn::forward_cpu);
  m.impl("ms_deform_attn_backward", &grefbench::ms_deform_attn::backward_cpu);
}
