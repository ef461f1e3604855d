#include "l2w/serve/image_input.h"

#include "l2w/dataset/image_decoding.h"
#include "l2w/dataset/image_folder.h"
#include "l2w/dataset/image_transforms.h"
#include "l2w/dataset/transforms.h"

namespace l2w::serve {
namespace {

std::string describe(int64_t channels, int64_t height, int64_t width) {
  return std::to_string(height) + "x" + std::to_string(width) + (channels == 1 ? " grey" : " colour");
}

// CHW bytes of a small-image network's input: the image as it is, when it fits.
std::vector<uint8_t> as_is(const dataset::RgbImage& image, const InputFormat& f) {
  if (image.height != f.height || image.width != f.width || image.channels != f.channels)
    throw InputError("the image is " + describe(image.channels, image.height, image.width) + ", the network takes " +
                     describe(f.channels, f.height, f.width) + " images");
  const int64_t plane = f.height * f.width;
  std::vector<uint8_t> chw(static_cast<size_t>(f.channels * plane));
  for (int64_t c = 0; c < f.channels; ++c)
    for (int64_t i = 0; i < plane; ++i) chw[c * plane + i] = image.pixels[i * 3 + c];
  return chw;
}

}  // namespace

InputFormat input_format(const dataset::ImageDataset& data) {
  const auto shape = data.image_shape();
  InputFormat f;
  f.channels = shape[0], f.height = shape[1], f.width = shape[2];
  f.resize_and_crop = data.folder != nullptr;
  f.mean = data.mean, f.std = data.std;
  return f;
}

torch::Tensor image_to_input(const std::vector<uint8_t>& bytes, const InputFormat& f, int64_t max_pixels) {
  dataset::RgbImage image;
  try {
    const auto header = dataset::read_image_header(bytes, "the body");
    if (!f.resize_and_crop && (header.height != f.height || header.width != f.width || header.channels != f.channels))
      throw InputError("the image is " + describe(header.channels, header.height, header.width) +
                       ", the network takes " + describe(f.channels, f.height, f.width) + " images");
    if (header.height * header.width > max_pixels)
      throw InputTooLarge("the image is " + std::to_string(header.height) + "x" + std::to_string(header.width) +
                          " pixels, more than the " + std::to_string(max_pixels) + " this server decodes");
    image = dataset::decode_image_bytes(bytes, "the body", max_pixels);
  } catch (const dataset::DataError& e) {
    throw InputError(e.what());
  }
  std::vector<uint8_t> chw;
  if (f.resize_and_crop) {
    chw.resize(static_cast<size_t>(3 * f.height * f.width));
    dataset::resize_center_crop(image, f.height * 256 / 224, f.height, chw.data());
  } else {
    chw = as_is(image, f);
  }
  const dataset::ImageGeometry g{f.channels, f.height, f.width};
  auto input = torch::empty({f.channels, f.height, f.width}, torch::kFloat32);
  dataset::normalize(chw.data(), input.data_ptr<float>(), g, f.mean, f.std);
  return input;
}

}  // namespace l2w::serve
