// JPEG (libjpeg-turbo) and PNG (libpng) files to 8-bit RGB pixels, and back (for tests and benchmarks).
// Grey, palette and CMYK images become RGB; alpha and 16-bit depth are dropped. Built only with
// L2W_WITH_IMAGES (both libraries found).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace l2w::dataset {

struct RgbImage {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> pixels;  // height x width x 3, row-major
  int channels = 3;             // the file's own colour channels: 1 for a grey image, else 3
};

// Decodes by content (JPEG or PNG magic), whatever the file's extension. DataError naming the file
// when it cannot be read or decoded.
RgbImage decode_image(const std::string& path);
// The same for a file's bytes held in memory (a request body); `name` stands for the file in errors.
RgbImage decode_image_bytes(const std::vector<uint8_t>& bytes, const std::string& name);

// Writes `image` as a baseline JPEG of `quality`; `cmyk` stores it as an (Adobe-inverted) CMYK JPEG and
// `grey` as one channel, as cameras and scanners sometimes do.
void write_jpeg(const std::string& path, const RgbImage& image, int quality = 90, bool grey = false, bool cmyk = false);
// A PNG file of `image`, as one grey channel when image.channels is 1 (its red channel).
void write_png(const std::string& path, const RgbImage& image);
std::vector<uint8_t> encode_png(const RgbImage& image);

}  // namespace l2w::dataset
