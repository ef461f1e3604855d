// ImageNet's augmentation (docs/algorithm.md, "Data") on decoded images: torchvision's RandomResizedCrop and flip for
// training, shorter side to 256 and a centre 224 crop for evaluation, with PIL's antialiased bilinear
// resampling (a triangle filter widened by the reduction factor).
#pragma once

#include <cstdint>
#include <random>

#include "l2w/dataset/image_decoding.h"

namespace l2w::dataset {

struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// torchvision's RandomResizedCrop.get_params: ten tries at an area fraction in [min_scale, max_scale] and
// a log-uniform aspect ratio in [min_ratio, max_ratio]; then the centre crop clamped to that ratio range.
CropBox random_resized_crop_box(int64_t height, int64_t width, std::mt19937_64& rng, double min_scale = 0.08,
                                double max_scale = 1.0, double min_ratio = 3.0 / 4.0, double max_ratio = 4.0 / 3.0);

// Resamples `box` of `image` to size x size, mirrored when `flip`, into CHW bytes `dst` (3·size² of them).
void resized_crop(const RgbImage& image, const CropBox& box, int64_t size, bool flip, uint8_t* dst);

// Evaluation: the image resized so that its shorter side is `resize` (the longer one truncated as
// torchvision does), then its centre `size` x `size`, into CHW bytes `dst`.
void resize_center_crop(const RgbImage& image, int64_t resize, int64_t size, uint8_t* dst);

}  // namespace l2w::dataset
