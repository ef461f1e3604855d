// Decompression bombs for the tests: small files whose headers declare huge images.
#pragma once

#include <png.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "l2w/dataset/image_decoding.h"

namespace l2w::test {

// A whole, valid 1-bit grey PNG of height x width black pixels: about 110 kB for 30000 x 30000 (900
// million pixels, 2.7 GB once decoded to RGB).
inline std::vector<uint8_t> bomb_png(int64_t height, int64_t width) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error("cannot write the bomb PNG");
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, png_size_t n) {
        auto* bytes = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p));
        bytes->insert(bytes->end(), data, data + n);
      },
      nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 1, PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
  png_write_info(png, info);
  std::vector<uint8_t> row(static_cast<size_t>((width + 7) / 8), 0);
  for (int64_t y = 0; y < height; ++y) png_write_row(png, row.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// A small baseline JPEG whose frame header (SOF0) is changed to declare height x width pixels.
inline std::vector<uint8_t> bomb_jpeg(const std::vector<uint8_t>& small_jpeg, int64_t height, int64_t width) {
  auto bytes = small_jpeg;
  for (size_t i = 2; i + 9 < bytes.size(); ++i) {
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xC0) {
      bytes[i + 5] = static_cast<uint8_t>(height >> 8), bytes[i + 6] = static_cast<uint8_t>(height);
      bytes[i + 7] = static_cast<uint8_t>(width >> 8), bytes[i + 8] = static_cast<uint8_t>(width);
      return bytes;
    }
  }
  throw std::runtime_error("no baseline frame header in the JPEG");
}

}  // namespace l2w::test
