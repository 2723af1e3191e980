// Bilinear sampling core of multi-scale deformable attention, shared by the CPU and CUDA kernels.
//
// One sample at normalised location (x, y) in [0, 1] on an H x W map reads the four pixels
// around the pixel coordinate (x * W - 0.5, y * H - 0.5), exactly like
// grid_sample(align_corners=False, padding_mode="zeros"): corners outside the map read zero.
// Plain structs and inline functions with no torch dependency, so g++ and nvcc both compile it.
#pragma once

#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define GREFBENCH_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define GREFBENCH_HOST_DEVICE inline
#endif

namespace grefbench {
namespace ms_deform_attn {

// Sizes of one call (Deformable-DETR layout): value [batch, spatial, heads, channels];
// sampling locations [batch, queries, heads, levels, points, 2]; output [batch, queries, heads * channels].
struct Problem {
  int64_t batch;
  int64_t spatial;
  int64_t heads;
  int64_t channels;
  int64_t levels;
  int64_t queries;
  int64_t points;
};

// Corner order: top-left, top-right, bottom-left, bottom-right.
constexpr int kCorners = 4;

template <typename scalar_t>
struct BilinearCorners {
  // Pixel index (row * width + column) inside the level, or -1 for a corner outside the map.
  int64_t pixel[kCorners];
  // Interpolation weight of each corner (zero for corners outside the map).
  scalar_t weight[kCorners];
  // Derivatives of each weight with respect to the sample's x and y in pixel units.
  scalar_t weight_dx[kCorners];
  scalar_t weight_dy[kCorners];
};

GREFBENCH_HOST_DEVICE float floor_of(float value) { return floorf(value); }
GREFBENCH_HOST_DEVICE double floor_of(double value) { return floor(value); }

// Fills `corners` for the sample at normalised (loc_x, loc_y); returns false when no corner is
// inside the map (the sample and all its derivatives are then zero).
template <typename scalar_t>
GREFBENCH_HOST_DEVICE bool bilinear_corners(
    scalar_t loc_x, scalar_t loc_y, int64_t height, int64_t width, BilinearCorners<scalar_t>& corners) {
  const scalar_t x = loc_x * static_cast<scalar_t>(width) - static_cast<scalar_t>(0.5);
  const scalar_t y = loc_y * static_cast<scalar_t>(height) - static_cast<scalar_t>(0.5);
  // Written so NaN fails it too; at exactly -1 the far corner still carries a derivative, as in
  // grid_sample. This also keeps the integer conversions below in range.
  if (!(x >= static_cast<scalar_t>(-1) && y >= static_cast<scalar_t>(-1) &&
        x < static_cast<scalar_t>(width) && y < static_cast<scalar_t>(height))) {
    return false;
  }
  const scalar_t left_f = floor_of(x);
  const scalar_t top_f = floor_of(y);
  const int64_t left = static_cast<int64_t>(left_f);
  const int64_t top = static_cast<int64_t>(top_f);
  const scalar_t frac_x = x - left_f;
  const scalar_t frac_y = y - top_f;
  const scalar_t rest_x = static_cast<scalar_t>(1) - frac_x;
  const scalar_t rest_y = static_cast<scalar_t>(1) - frac_y;

  const bool left_in = left >= 0;
  const bool right_in = left + 1 < width;
  const bool top_in = top >= 0;
  const bool bottom_in = top + 1 < height;
  const bool inside[kCorners] = {top_in && left_in, top_in && right_in, bottom_in && left_in, bottom_in && right_in};
  const int64_t pixel[kCorners] = {top * width + left, top * width + left + 1, (top + 1) * width + left,
                                   (top + 1) * width + left + 1};
  const scalar_t weight[kCorners] = {rest_y * rest_x, rest_y * frac_x, frac_y * rest_x, frac_y * frac_x};
  const scalar_t weight_dx[kCorners] = {-rest_y, rest_y, -frac_y, frac_y};
  const scalar_t weight_dy[kCorners] = {-rest_x, -frac_x, rest_x, frac_x};
  for (int corner = 0; corner < kCorners; ++corner) {
    const bool in = inside[corner];
    corners.pixel[corner] = in ? pixel[corner] : -1;
    corners.weight[corner] = in ? weight[corner] : static_cast<scalar_t>(0);
    corners.weight_dx[corner] = in ? weight_dx[corner] : static_cast<scalar_t>(0);
    corners.weight_dy[corner] = in ? weight_dy[corner] : static_cast<scalar_t>(0);
  }
  return true;
}

// Value of one channel at the sample: sum over corners inside the map of weight * pixel value.
// `level_value` points at channel 0 of pixel 0 of the level; pixels are `pixel_stride` apart.
template <typename scalar_t>
GREFBENCH_HOST_DEVICE scalar_t sample_channel(
    const scalar_t* level_value, int64_t pixel_stride, const BilinearCorners<scalar_t>& corners, int64_t channel) {
  scalar_t sum = 0;
  for (int corner = 0; corner < kCorners; ++corner) {
    if (corners.pixel[corner] >= 0) {
      sum += corners.weight[corner] * level_value[corners.pixel[corner] * pixel_stride + channel];
    }
  }
  return sum;
}

}  // namespace ms_deform_attn
}  // namespace grefbench
