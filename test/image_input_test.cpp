#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "l2w/dataset/image_decoding.h"
#include "l2w/dataset/transforms.h"
#include "l2w/serve/image_input.h"

namespace l2w {
namespace {

dataset::RgbImage grey_image(int64_t h, int64_t w) {
  dataset::RgbImage image{h, w, std::vector<uint8_t>(static_cast<size_t>(h * w * 3)), 1};
  for (int64_t i = 0; i < h * w; ++i)
    for (int c = 0; c < 3; ++c) image.pixels[i * 3 + c] = static_cast<uint8_t>(i * 7 % 256);
  return image;
}

serve::InputFormat fashion_mnist_format() {
  serve::InputFormat f;
  f.channels = 1, f.height = 28, f.width = 28;
  f.mean = {0.2860f}, f.std = {0.3530f};
  return f;
}

std::string reason(const std::vector<uint8_t>& bytes, const serve::InputFormat& f) {
  try {
    serve::image_to_input(bytes, f, dataset::kMaxImagePixels);
  } catch (const serve::InputError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(ImageInput, AGreyPngBecomesTheNormalisedPixelsEvaluationSees) {
  const auto image = grey_image(28, 28);
  const auto input = serve::image_to_input(dataset::encode_png(image), fashion_mnist_format(), dataset::kMaxImagePixels);
  ASSERT_EQ(input.sizes(), (std::vector<int64_t>{1, 28, 28}));
  std::vector<uint8_t> chw(28 * 28);
  for (int64_t i = 0; i < 28 * 28; ++i) chw[i] = image.pixels[i * 3];
  auto expected = torch::empty({1, 28, 28});
  dataset::normalize(chw.data(), expected.data_ptr<float>(), {1, 28, 28}, {0.2860f}, {0.3530f});
  EXPECT_TRUE(torch::equal(input, expected));
}

TEST(ImageInput, AGreyJpegIsTakenAndAColourOneRefusedByAGreyNetwork) {
  const auto dir = std::filesystem::temp_directory_path() / ("l2w_image_input_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto image = grey_image(28, 28);
  dataset::write_jpeg((dir / "grey.jpg").string(), image, 95, /*grey=*/true);
  dataset::write_jpeg((dir / "colour.jpg").string(), image, 95);
  const auto grey = serve::image_to_input(dataset::read_file((dir / "grey.jpg").string()), fashion_mnist_format(),
                                           dataset::kMaxImagePixels);
  EXPECT_EQ(grey.sizes(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(reason(dataset::read_file((dir / "colour.jpg").string()), fashion_mnist_format()),
            "the image is 28x28 colour, the network takes 28x28 grey images");
  std::filesystem::remove_all(dir);
}

TEST(ImageInput, RefusesWhatTheNetworkCannotTakeWithTheReason) {
  const auto f = fashion_mnist_format();
  EXPECT_EQ(reason(dataset::encode_png(grey_image(32, 28)), f), "the image is 32x28 grey, the network takes 28x28 grey images");
  auto colour = grey_image(28, 28);
  colour.channels = 3;
  EXPECT_EQ(reason(dataset::encode_png(colour), f), "the image is 28x28 colour, the network takes 28x28 grey images");
  EXPECT_EQ(reason({'h', 'e', 'l', 'l', 'o'}, f), "the body: neither a JPEG nor a PNG file");
  auto png = dataset::encode_png(grey_image(28, 28));
  png.resize(png.size() / 2);
  EXPECT_NE(reason(png, f).find("cannot decode PNG"), std::string::npos) << reason(png, f);
}

}  // namespace
}  // namespace l2w
