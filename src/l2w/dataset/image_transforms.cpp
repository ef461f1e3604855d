#include "l2w/dataset/image_transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

namespace l2w::dataset {
namespace {

// Pillow keeps 8-bit resampling weights as integers in units of 2^-22: 8 bits for the pixel and 2 of
// headroom leave a 32-bit accumulator room for the sum.
constexpr int kPrecisionBits = 22;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

// The bilinear filter: a triangle of support 1, widened by the scale factor when reducing (antialiasing).
double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

uint8_t clip8(int32_t accumulator) { return static_cast<uint8_t>(std::clamp(accumulator >> kPrecisionBits, 0, 255)); }

// One axis of a resampling: for each output index, its first input index, its number of taps and their
// fixed-point weights.
struct Taps {
  std::vector<int64_t> first;
  std::vector<int64_t> count;
  std::vector<int32_t> weights;  // `width` per output index
  int64_t width = 0;
  const int32_t* of(int64_t out) const { return weights.data() + out * width; }
};

// The taps that take `in_size` pixels to `out_size`, computed with Pillow's double arithmetic in Pillow's
// order and rounded to fixed point as Pillow rounds them, so that every weight is Pillow's to the bit.
Taps bilinear_taps(int64_t in_size, int64_t out_size) {
  const double scale = double(in_size) / double(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;  // the triangle's support, 1, widened
  const double inverse = 1.0 / filter_scale;
  Taps t;
  t.width = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(out_size * t.width, 0);
  std::vector<double> w(t.width);
  for (int64_t x = 0; x < out_size; ++x) {
    const double center = (double(x) + 0.5) * scale;
    // Truncation toward zero, as C's (int) cast; Pillow calls it rounding because of the + 0.5.
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    double total = 0.0;
    for (int64_t i = 0; i < hi - lo; ++i) {
      w[i] = triangle((double(i + lo) - center + 0.5) * inverse);
      total += w[i];
    }
    for (int64_t i = 0; i < hi - lo; ++i) {
      const double normalised = total != 0.0 ? w[i] / total : w[i];
      const double fixed = normalised * double(1 << kPrecisionBits);
      t.weights[x * t.width + i] = static_cast<int32_t>(normalised < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    t.first[x] = lo;
    t.count[x] = hi - lo;
  }
  return t;
}

// The rectangle [top, top + height) x [left, left + width) of a resampled image.
struct Window {
  int64_t top, left, height, width;
};

// Resamples `region` of `image` to out_height x out_width, as Pillow's Image.resize(BILINEAR) does on the
// region cut out: a horizontal pass rounded to bytes, then a vertical one. Only `window` of the output is
// computed (each output pixel depends on its taps alone); returns its HWC bytes.
std::vector<uint8_t> resample(const RgbImage& image, const CropBox& region, int64_t out_height, int64_t out_width,
                              const Window& window) {
  const Taps rows = bilinear_taps(region.height, out_height);
  const Taps cols = bilinear_taps(region.width, out_width);
  const int64_t last = window.top + window.height - 1;
  const int64_t row_lo = rows.first[window.top], row_hi = rows.first[last] + rows.count[last];
  const int64_t stride = window.width * 3;
  std::vector<uint8_t> horizontal(static_cast<size_t>((row_hi - row_lo) * stride));
  for (int64_t y = row_lo; y < row_hi; ++y) {
    const uint8_t* in = image.pixels.data() + ((region.top + y) * image.width + region.left) * 3;
    uint8_t* out = horizontal.data() + (y - row_lo) * stride;
    for (int64_t x = 0; x < window.width; ++x) {
      const int64_t ox = window.left + x;
      const int32_t* k = cols.of(ox);
      const uint8_t* p = in + cols.first[ox] * 3;
      int32_t r = kHalf, g = kHalf, b = kHalf;
      for (int64_t i = 0; i < cols.count[ox]; ++i, p += 3) {
        r += p[0] * k[i];
        g += p[1] * k[i];
        b += p[2] * k[i];
      }
      out[x * 3] = clip8(r), out[x * 3 + 1] = clip8(g), out[x * 3 + 2] = clip8(b);
    }
  }
  std::vector<uint8_t> result(static_cast<size_t>(window.height * stride));
  std::vector<int32_t> accumulator(static_cast<size_t>(stride));
  for (int64_t y = 0; y < window.height; ++y) {
    const int64_t oy = window.top + y;
    const int32_t* k = rows.of(oy);
    std::fill(accumulator.begin(), accumulator.end(), kHalf);
    const uint8_t* p = horizontal.data() + (rows.first[oy] - row_lo) * stride;
    for (int64_t i = 0; i < rows.count[oy]; ++i, p += stride)
      for (int64_t j = 0; j < stride; ++j) accumulator[j] += p[j] * k[i];
    uint8_t* out = result.data() + y * stride;
    for (int64_t j = 0; j < stride; ++j) out[j] = clip8(accumulator[j]);
  }
  return result;
}

// Writes HWC bytes of height x width into CHW planes of plane_height x plane_width at (top, left),
// mirrored left to right when `flip`.
void write_chw(const std::vector<uint8_t>& hwc, int64_t height, int64_t width, bool flip, uint8_t* dst,
               int64_t plane_height, int64_t plane_width, int64_t top, int64_t left) {
  const int64_t plane = plane_height * plane_width;
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      const uint8_t* p = hwc.data() + (y * width + x) * 3;
      const int64_t column = left + (flip ? width - 1 - x : x);
      for (int c = 0; c < 3; ++c) dst[c * plane + (top + y) * plane_width + column] = p[c];
    }
}

// torchvision's CenterCrop offset along one axis of `length` for a crop of `size`: rounded half to even
// when the crop fits, minus the zero padding's leading half when it does not.
int64_t center_offset(int64_t length, int64_t size) {
  if (size > length) return -((size - length) / 2);
  return round_half_even(double(length - size) / 2.0);
}

}  // namespace

int64_t round_half_even(double x) {
  return static_cast<int64_t>(std::nearbyint(x));  // the default rounding mode takes halves to even
}

CropBox random_resized_crop_box(int64_t height, int64_t width, std::mt19937_64& rng, double min_scale,
                                double max_scale, double min_ratio, double max_ratio) {
  const double area = double(height) * double(width);
  std::uniform_real_distribution<double> scale(min_scale, max_scale);
  std::uniform_real_distribution<double> log_ratio(std::log(min_ratio), std::log(max_ratio));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * scale(rng);
    const double ratio = std::exp(log_ratio(rng));
    const int64_t w = round_half_even(std::sqrt(target * ratio));
    const int64_t h = round_half_even(std::sqrt(target / ratio));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const int64_t top = std::uniform_int_distribution<int64_t>(0, height - h)(rng);
      const int64_t left = std::uniform_int_distribution<int64_t>(0, width - w)(rng);
      return {top, left, h, w};
    }
  }
  const double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < min_ratio) h = round_half_even(double(w) / min_ratio);
  else if (in_ratio > max_ratio) w = round_half_even(double(h) * max_ratio);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

void resized_crop(const RgbImage& image, const CropBox& box, int64_t size, bool flip, uint8_t* dst) {
  const auto pixels = resample(image, box, size, size, {0, 0, size, size});
  write_chw(pixels, size, size, flip, dst, size, size, 0, 0);
}

std::pair<int64_t, int64_t> shorter_side_size(int64_t height, int64_t width, int64_t resize) {
  const int64_t shorter = std::min(height, width), longer = std::max(height, width);
  // int(resize * long / short) in Python: the product exact, the quotient a double, then truncated.
  const auto scaled = static_cast<int64_t>(double(resize * longer) / double(shorter));
  return width <= height ? std::pair{scaled, resize} : std::pair{resize, scaled};
}

void resize_center_crop(const RgbImage& image, int64_t resize, int64_t size, uint8_t* dst) {
  const auto [out_height, out_width] = shorter_side_size(image.height, image.width, resize);
  const int64_t top = center_offset(out_height, size), left = center_offset(out_width, size);
  // The crop's rows and columns that fall inside the resized image; the rest is padding.
  const int64_t y0 = std::max<int64_t>(top, 0), y1 = std::min(top + size, out_height);
  const int64_t x0 = std::max<int64_t>(left, 0), x1 = std::min(left + size, out_width);
  if (top < 0 || left < 0) std::memset(dst, 0, 3 * size * size);
  const Window window{y0, x0, y1 - y0, x1 - x0};
  const auto pixels = resample(image, {0, 0, image.height, image.width}, out_height, out_width, window);
  write_chw(pixels, window.height, window.width, false, dst, size, size, y0 - top, x0 - left);
}

}  // namespace l2w::dataset
