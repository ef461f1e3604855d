// Per-sample augmentation and normalisation (docs/algorithm.md, "Data"), on bytes, outside torch's thread pool so that
// loader threads never compete with the training step for it.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace l2w::dataset {

struct ImageGeometry {
  int64_t channels;
  int64_t height;
  int64_t width;
  int64_t numel() const { return channels * height * width; }
};

// A random `height x width` crop of the image zero-padded by `pad` on every side, then a horizontal
// flip with probability one half (when `flip`). `src` and `dst` are CHW bytes.
void random_crop_flip(const uint8_t* src, uint8_t* dst, const ImageGeometry& g, int64_t pad, bool flip,
                      std::mt19937_64& rng);

// dst = (src / 255 - mean[c]) / std[c], each operation rounded to float32 in that order, as torchvision computes it.
void normalize(const uint8_t* src, float* dst, const ImageGeometry& g, const std::vector<float>& mean,
               const std::vector<float>& std);

}  // namespace l2w::dataset
