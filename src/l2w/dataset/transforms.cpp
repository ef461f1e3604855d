#include "l2w/dataset/transforms.h"

namespace l2w::dataset {

void random_crop_flip(const uint8_t* src, uint8_t* dst, const ImageGeometry& g, int64_t pad, bool flip,
                      std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> offset(0, 2 * pad);
  const int64_t dy = offset(rng) - pad;  // crop origin in the unpadded image
  const int64_t dx = offset(rng) - pad;
  const bool mirror = flip && std::bernoulli_distribution(0.5)(rng);
  for (int64_t c = 0; c < g.channels; ++c) {
    const uint8_t* plane = src + c * g.height * g.width;
    uint8_t* out = dst + c * g.height * g.width;
    for (int64_t y = 0; y < g.height; ++y) {
      const int64_t sy = y + dy;
      for (int64_t x = 0; x < g.width; ++x) {
        const int64_t sx = (mirror ? g.width - 1 - x : x) + dx;
        const bool inside = sy >= 0 && sy < g.height && sx >= 0 && sx < g.width;
        out[y * g.width + x] = inside ? plane[sy * g.width + sx] : 0;
      }
    }
  }
}

void normalize(const uint8_t* src, float* dst, const ImageGeometry& g, const std::vector<float>& mean,
               const std::vector<float>& std) {
  // torchvision's ToTensor then Normalize, operation for operation in float32, so that inputs are bit for bit
  // the reference's (a folded scale and shift differs by rounding).
  const int64_t plane = g.height * g.width;
  for (int64_t c = 0; c < g.channels; ++c) {
    const float m = mean[c], s = std[c];
    for (int64_t i = 0; i < plane; ++i) dst[c * plane + i] = (float(src[c * plane + i]) / 255.0f - m) / s;
  }
}

}  // namespace l2w::dataset
