#include "l2w/dataset/image_transforms.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace l2w::dataset {
namespace {

// For each output coordinate: the first input index and the normalised filter weights (PIL's
// precompute_coeffs for the bilinear filter, support 1, widened by the scale when reducing).
struct Taps {
  std::vector<int64_t> first;
  std::vector<int64_t> count;
  std::vector<float> weights;  // count_max per output
  int64_t width = 0;
};

Taps taps(double in_begin, double in_length, int64_t in_size, int64_t out_size) {
  const double scale = in_length / double(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;  // bilinear support 1
  Taps t;
  t.width = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(out_size * t.width, 0.0f);
  for (int64_t x = 0; x < out_size; ++x) {
    const double center = in_begin + (double(x) + 0.5) * scale;
    int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    hi = std::min(hi, lo + t.width);
    double total = 0;
    for (int64_t i = lo; i < hi; ++i) {
      const double w = std::max(0.0, 1.0 - std::abs((double(i) - center + 0.5) / filter_scale));
      t.weights[x * t.width + (i - lo)] = static_cast<float>(w);
      total += w;
    }
    if (total > 0)
      for (int64_t i = 0; i < hi - lo; ++i) t.weights[x * t.width + i] = static_cast<float>(t.weights[x * t.width + i] / total);
    t.first[x] = lo;
    t.count[x] = hi - lo;
  }
  return t;
}

uint8_t to_byte(float v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

// Resamples the region [y0, y0 + h) x [x0, x0 + w) of `image` (fractional edges allowed) to out_h x out_w
// and writes rows [win_top, win_top + win) and columns [win_left, win_left + win) as CHW bytes.
void resample(const RgbImage& image, double y0, double h, double x0, double w, int64_t out_h, int64_t out_w,
              int64_t win_top, int64_t win_left, int64_t win, bool flip, uint8_t* dst) {
  const Taps rows = taps(y0, h, image.height, out_h);
  const Taps cols = taps(x0, w, image.width, out_w);
  // Horizontal pass over the input rows the window's output rows need.
  const int64_t row_lo = rows.first[win_top];
  const int64_t row_hi = rows.first[win_top + win - 1] + rows.count[win_top + win - 1];
  std::vector<float> horizontal(static_cast<size_t>((row_hi - row_lo) * win * 3));
  for (int64_t y = row_lo; y < row_hi; ++y) {
    const uint8_t* in = image.pixels.data() + y * image.width * 3;
    float* out = horizontal.data() + (y - row_lo) * win * 3;
    for (int64_t x = 0; x < win; ++x) {
      const int64_t ox = win_left + x;
      const float* wt = cols.weights.data() + ox * cols.width;
      const uint8_t* p = in + cols.first[ox] * 3;
      float r = 0, g = 0, b = 0;
      for (int64_t i = 0; i < cols.count[ox]; ++i, p += 3) {
        r += wt[i] * p[0];
        g += wt[i] * p[1];
        b += wt[i] * p[2];
      }
      // PIL rounds to bytes between the passes.
      out[x * 3] = to_byte(r), out[x * 3 + 1] = to_byte(g), out[x * 3 + 2] = to_byte(b);
    }
  }
  const int64_t plane = win * win;
  for (int64_t y = 0; y < win; ++y) {
    const int64_t oy = win_top + y;
    const float* wt = rows.weights.data() + oy * rows.width;
    for (int64_t x = 0; x < win; ++x) {
      float acc[3] = {0, 0, 0};
      const float* p = horizontal.data() + ((rows.first[oy] - row_lo) * win + x) * 3;
      for (int64_t i = 0; i < rows.count[oy]; ++i, p += win * 3)
        for (int c = 0; c < 3; ++c) acc[c] += wt[i] * p[c];
      const int64_t column = flip ? win - 1 - x : x;
      for (int c = 0; c < 3; ++c) dst[c * plane + y * win + column] = to_byte(acc[c]);
    }
  }
}

}  // namespace

CropBox random_resized_crop_box(int64_t height, int64_t width, std::mt19937_64& rng, double min_scale,
                                double max_scale, double min_ratio, double max_ratio) {
  const double area = double(height) * double(width);
  std::uniform_real_distribution<double> scale(min_scale, max_scale);
  std::uniform_real_distribution<double> log_ratio(std::log(min_ratio), std::log(max_ratio));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * scale(rng);
    const double ratio = std::exp(log_ratio(rng));
    const auto w = static_cast<int64_t>(std::lround(std::sqrt(target * ratio)));
    const auto h = static_cast<int64_t>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const int64_t top = std::uniform_int_distribution<int64_t>(0, height - h)(rng);
      const int64_t left = std::uniform_int_distribution<int64_t>(0, width - w)(rng);
      return {top, left, h, w};
    }
  }
  const double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < min_ratio) h = std::lround(double(w) / min_ratio);
  else if (in_ratio > max_ratio) w = std::lround(double(h) * max_ratio);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

void resized_crop(const RgbImage& image, const CropBox& box, int64_t size, bool flip, uint8_t* dst) {
  resample(image, double(box.top), double(box.height), double(box.left), double(box.width), size, size, 0, 0, size,
           flip, dst);
}

void resize_center_crop(const RgbImage& image, int64_t resize, int64_t size, uint8_t* dst) {
  int64_t out_h = resize, out_w = resize;
  if (image.width < image.height) out_h = resize * image.height / image.width;
  else out_w = resize * image.width / image.height;
  const int64_t top = std::lround((out_h - size) / 2.0), left = std::lround((out_w - size) / 2.0);
  if (top < 0 || left < 0) {  // an image smaller than the crop: take the centre of what there is
    resample(image, 0, double(image.height), 0, double(image.width), size, size, 0, 0, size, false, dst);
    return;
  }
  resample(image, 0, double(image.height), 0, double(image.width), out_h, out_w, top, left, size, false, dst);
}

}  // namespace l2w::dataset
