// JPEG (libjpeg-turbo) and PNG (libpng) files to 8-bit RGB pixels, and back (for tests and benchmarks).
// Grey, palette and CMYK images become RGB; alpha and 16-bit depth are dropped. Built only with
// L2W_WITH_IMAGES (both libraries found).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "l2w/dataset/image_dataset.h"

namespace l2w::dataset {

struct RgbImage {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> pixels;  // height x width x 3, row-major
  int channels = 3;             // the file's own colour channels: 1 for a grey image, else 3
};

// Pillow's limit (PIL.Image.MAX_IMAGE_PIXELS): an image of more pixels is refused before its pixels
// are decoded, since a file of a few kilobytes can declare gigabytes of them (a decompression bomb).
// Pillow itself warns above this and refuses above twice it; the ImageNet folder reader refuses what
// Pillow refuses, so that it reads every image the reference reads.
constexpr int64_t kMaxImagePixels = 89'478'485;

// An image whose header declares more pixels than the decoder was allowed.
struct ImageTooLarge : DataError {
  ImageTooLarge(const std::string& name, int64_t height, int64_t width, int64_t max_pixels);
  int64_t height, width;
};

// What a JPEG or PNG file's header says, read without decoding its pixels.
struct ImageHeader {
  int64_t height = 0, width = 0;
  int channels = 3;  // 1 for a grey image, else 3
};
// DataError naming `name` when the bytes are neither a JPEG nor a PNG file or its header is cut short.
ImageHeader read_image_header(const std::vector<uint8_t>& bytes, const std::string& name);

// Decodes by content (JPEG or PNG magic), whatever the file's extension. DataError naming the file
// when it cannot be read or decoded; ImageTooLarge, before any pixel is decoded, when its header
// declares more than `max_pixels` pixels.
RgbImage decode_image(const std::string& path, int64_t max_pixels = 2 * kMaxImagePixels);
// The same for a file's bytes held in memory (a request body); `name` stands for the file in errors.
RgbImage decode_image_bytes(const std::vector<uint8_t>& bytes, const std::string& name,
                            int64_t max_pixels = 2 * kMaxImagePixels);

// Writes `image` as a baseline JPEG of `quality`; `cmyk` stores it as an (Adobe-inverted) CMYK JPEG and
// `grey` as one channel, as cameras and scanners sometimes do.
void write_jpeg(const std::string& path, const RgbImage& image, int quality = 90, bool grey = false, bool cmyk = false);
// A PNG file of `image`, as one grey channel when image.channels is 1 (its red channel).
void write_png(const std::string& path, const RgbImage& image);
std::vector<uint8_t> encode_png(const RgbImage& image);

}  // namespace l2w::dataset
