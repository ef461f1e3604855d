#include "l2w/dataset/image_decoding.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "l2w/dataset/image_dataset.h"
#include "l2w/runtime/atomic_file.h"

namespace l2w::dataset {
namespace {

// libjpeg reports errors through a callback that must not return: jump back with the message.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  info->err->format_message(info, error->message);
  std::longjmp(error->jump, 1);
}

// libjpeg decodes a truncated or corrupt file with a warning and grey or garbled pixels; PIL (and so the
// reference) refuses a truncated one. Warnings that mean the pixels are not the file's are errors here.
// Junk between the last scan and the end marker is not: the image is whole (PIL reads such files, and
// ImageNet has some).
void on_jpeg_message(j_common_ptr info, int level) {
  if (level >= 0) return;  // trace messages
  const jpeg_error_mgr& m = *info->err;
  switch (m.msg_code) {
    case JWRN_EXTRANEOUS_DATA:
      if (m.msg_parm.i[1] == 0xD9) return;
      break;
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
      break;
    default:
      return;  // metadata: unknown JFIF revision, Adobe transform, ICC profile, thumbnails
  }
  on_jpeg_error(info);
}

// Throws ImageTooLarge when the header's size is over the limit: before a pixel buffer is allocated.
void check_pixels(const std::string& path, int64_t height, int64_t width, int64_t max_pixels) {
  if (height * width > max_pixels) throw ImageTooLarge(path, height, width, max_pixels);
}

// Decodes the pixels unless `header_only`, when only the header is read.
RgbImage decode_jpeg(const std::string& path, const std::vector<uint8_t>& bytes, int64_t max_pixels, bool header_only) {
  jpeg_decompress_struct info{};
  JpegError error{};
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = on_jpeg_error;
  error.manager.emit_message = on_jpeg_message;
  RgbImage image;
  std::vector<uint8_t> row;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&info);
    throw DataError(path + ": cannot decode JPEG (" + error.message + ")");
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), bytes.size());
  jpeg_read_header(&info, TRUE);
  image.channels = info.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
  image.height = info.image_height;
  image.width = info.image_width;
  if (header_only || image.height * image.width > max_pixels) {
    jpeg_destroy_decompress(&info);
    if (!header_only) check_pixels(path, image.height, image.width, max_pixels);
    return image;
  }
  const bool cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
  info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  info.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&info);
  image.height = info.output_height;
  image.width = info.output_width;
  image.pixels.resize(static_cast<size_t>(image.height * image.width * 3));
  row.resize(static_cast<size_t>(info.output_width) * info.output_components);
  while (info.output_scanline < info.output_height) {
    const int64_t y = info.output_scanline;
    JSAMPROW rows[1] = {cmyk ? row.data() : image.pixels.data() + y * image.width * 3};
    jpeg_read_scanlines(&info, rows, 1);
    if (cmyk) {
      // Adobe writes CMYK inverted: each stored value is 255 − ink, so R = C'·K'/255 and so on.
      uint8_t* out = image.pixels.data() + y * image.width * 3;
      for (int64_t x = 0; x < image.width; ++x) {
        const int k = row[x * 4 + 3];
        for (int c = 0; c < 3; ++c) out[x * 3 + c] = static_cast<uint8_t>((row[x * 4 + c] * k + 127) / 255);
      }
    }
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return image;
}

struct PngReader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReader() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

struct PngSource {
  const std::vector<uint8_t>* bytes;
  size_t at;
};

void read_png_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* source = static_cast<PngSource*>(png_get_io_ptr(png));
  if (source->at + n > source->bytes->size()) png_error(png, "file ends early");
  std::memcpy(out, source->bytes->data() + source->at, n);
  source->at += n;
}

void on_png_error(png_structp png, png_const_charp message) {
  auto* text = static_cast<std::string*>(png_get_error_ptr(png));
  *text = message;
  png_longjmp(png, 1);
}

// libpng reports image data that ends early or runs on as a warning and fills in or drops the rest: the
// pixels are not the file's, so these are errors. Other warnings (colour profiles, ancillary chunks whose
// checksum fails and which are dropped) leave the pixels whole.
void on_png_warning(png_structp png, png_const_charp message) {
  const std::string text = message;
  if (text.find("image data") != std::string::npos || text.find("compressed data") != std::string::npos)
    on_png_error(png, message);
}

RgbImage decode_png(const std::string& path, const std::vector<uint8_t>& bytes, int64_t max_pixels, bool header_only) {
  std::string message;
  PngReader reader;
  reader.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &message, on_png_error, on_png_warning);
  if (!reader.png) throw DataError(path + ": cannot start the PNG decoder");
  reader.info = png_create_info_struct(reader.png);
  PngSource source{&bytes, 0};
  RgbImage image;
  std::vector<png_bytep> rows;
  if (setjmp(png_jmpbuf(reader.png))) throw DataError(path + ": cannot decode PNG (" + message + ")");
  png_set_read_fn(reader.png, &source, read_png_bytes);
  png_read_info(reader.png, reader.info);
  const auto colour = png_get_color_type(reader.png, reader.info);
  image.channels = colour == PNG_COLOR_TYPE_GRAY || colour == PNG_COLOR_TYPE_GRAY_ALPHA ? 1 : 3;
  image.height = png_get_image_height(reader.png, reader.info);
  image.width = png_get_image_width(reader.png, reader.info);
  if (header_only) return image;
  check_pixels(path, image.height, image.width, max_pixels);
  png_set_expand(reader.png);  // palette and low-depth grey to 8 bits, tRNS to alpha
  png_set_strip_16(reader.png);
  png_set_strip_alpha(reader.png);
  png_set_gray_to_rgb(reader.png);
  png_set_interlace_handling(reader.png);
  png_read_update_info(reader.png, reader.info);
  image.height = png_get_image_height(reader.png, reader.info);
  image.width = png_get_image_width(reader.png, reader.info);
  image.pixels.resize(static_cast<size_t>(image.height * image.width * 3));
  for (int64_t y = 0; y < image.height; ++y) rows.push_back(image.pixels.data() + y * image.width * 3);
  png_read_image(reader.png, rows.data());
  png_read_end(reader.png, nullptr);  // through IEND: a file cut short after its pixels is still cut short
  return image;
}

}  // namespace

ImageTooLarge::ImageTooLarge(const std::string& name, int64_t h, int64_t w, int64_t max_pixels)
    : DataError(name + ": the image is " + std::to_string(h) + "x" + std::to_string(w) + " pixels, more than the " +
                std::to_string(max_pixels) + " this reader decodes"),
      height(h),
      width(w) {}

namespace {

RgbImage decode(const std::vector<uint8_t>& bytes, const std::string& name, int64_t max_pixels, bool header_only) {
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return decode_jpeg(name, bytes, max_pixels, header_only);
  if (bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0) return decode_png(name, bytes, max_pixels, header_only);
  throw DataError(name + ": neither a JPEG nor a PNG file");
}

}  // namespace

ImageHeader read_image_header(const std::vector<uint8_t>& bytes, const std::string& name) {
  const auto image = decode(bytes, name, 0, /*header_only=*/true);
  return ImageHeader{image.height, image.width, image.channels};
}

RgbImage decode_image(const std::string& path, int64_t max_pixels) {
  return decode_image_bytes(read_file(path), path, max_pixels);
}

RgbImage decode_image_bytes(const std::vector<uint8_t>& bytes, const std::string& name, int64_t max_pixels) {
  return decode(bytes, name, max_pixels, /*header_only=*/false);
}

void write_jpeg(const std::string& path, const RgbImage& image, int quality, bool grey, bool cmyk) {
  jpeg_compress_struct info{};
  jpeg_error_mgr error{};
  info.err = jpeg_std_error(&error);
  jpeg_create_compress(&info);
  unsigned char* encoded = nullptr;  // libjpeg's buffer, grown as it writes
  unsigned long encoded_size = 0;
  jpeg_mem_dest(&info, &encoded, &encoded_size);
  info.image_width = static_cast<JDIMENSION>(image.width);
  info.image_height = static_cast<JDIMENSION>(image.height);
  info.input_components = grey ? 1 : cmyk ? 4 : 3;
  info.in_color_space = grey ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_set_defaults(&info);
  if (cmyk) {
    jpeg_set_colorspace(&info, JCS_CMYK);
    info.write_Adobe_marker = TRUE;
  }
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(image.width) * info.input_components);
  while (info.next_scanline < info.image_height) {
    const uint8_t* rgb = image.pixels.data() + static_cast<int64_t>(info.next_scanline) * image.width * 3;
    for (int64_t x = 0; x < image.width; ++x) {
      const uint8_t* p = rgb + x * 3;
      if (grey) {
        row[x] = static_cast<uint8_t>((299 * p[0] + 587 * p[1] + 114 * p[2]) / 1000);
      } else if (cmyk) {  // K' = 255 (no black ink), C' = R: the decoder's inverse gives the colour back
        row[x * 4] = p[0], row[x * 4 + 1] = p[1], row[x * 4 + 2] = p[2], row[x * 4 + 3] = 255;
      } else {
        std::memcpy(&row[x * 3], p, 3);
      }
    }
    JSAMPROW rows[1] = {row.data()};
    jpeg_write_scanlines(&info, rows, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  const std::string bytes(reinterpret_cast<const char*>(encoded), encoded_size);
  std::free(encoded);
  runtime::write_file_atomically(path, bytes);
}

namespace {

void append_png_bytes(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}

}  // namespace

std::vector<uint8_t> encode_png(const RgbImage& image) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw DataError("cannot encode a PNG image");
  }
  png_set_write_fn(png, &out, append_png_bytes, nullptr);
  const bool grey = image.channels == 1;
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
               grey ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  std::vector<uint8_t> row(static_cast<size_t>(image.width));
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t* rgb = image.pixels.data() + y * image.width * 3;
    if (grey) {
      for (int64_t x = 0; x < image.width; ++x) row[x] = rgb[x * 3];
    }
    png_write_row(png, const_cast<png_bytep>(grey ? row.data() : rgb));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

void write_png(const std::string& path, const RgbImage& image) {
  const auto bytes = encode_png(image);
  runtime::write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace l2w::dataset
