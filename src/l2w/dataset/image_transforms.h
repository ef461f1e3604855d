// ImageNet's augmentation (docs/algorithm.md, "Data") on decoded images, pixel for pixel as the reference's
// PIL + torchvision pipeline computes it (docs/imagenet_pixels.md): RandomResizedCrop and flip for training,
// the shorter side to 256 and a centre 224 crop for evaluation, resampled as Pillow's antialiased bilinear
// filter in its own fixed point.
#pragma once

#include <cstdint>
#include <random>
#include <utility>

#include "l2w/dataset/image_decoding.h"

namespace l2w::dataset {

struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// Python's round() to an integer: halves go to the even neighbour (torchvision's crop arithmetic uses it).
int64_t round_half_even(double x);

// torchvision's RandomResizedCrop.get_params: ten tries at an area fraction in [min_scale, max_scale] and
// a log-uniform aspect ratio in [min_ratio, max_ratio]; then the centre crop clamped to that ratio range.
CropBox random_resized_crop_box(int64_t height, int64_t width, std::mt19937_64& rng, double min_scale = 0.08,
                                double max_scale = 1.0, double min_ratio = 3.0 / 4.0, double max_ratio = 4.0 / 3.0);

// `box` of `image` cut out, then resampled to size x size and mirrored when `flip` (torchvision's
// resized_crop, then hflip), into CHW bytes `dst` (3·size² of them).
void resized_crop(const RgbImage& image, const CropBox& box, int64_t size, bool flip, uint8_t* dst);

// The size torchvision's Resize(resize) gives an image: its shorter side `resize`, the longer one
// scaled and truncated. Returns {height, width}.
std::pair<int64_t, int64_t> shorter_side_size(int64_t height, int64_t width, int64_t resize);

// Evaluation: the image resized so that its shorter side is `resize`, then its centre `size` x `size`
// (torchvision's CenterCrop: offsets rounded half to even, zero padding where the image is smaller),
// into CHW bytes `dst`.
void resize_center_crop(const RgbImage& image, int64_t resize, int64_t size, uint8_t* dst);

}  // namespace l2w::dataset
