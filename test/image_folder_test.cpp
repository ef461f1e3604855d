// ImageNet-style folders: decoding, the class mapping, augmentation and the bad-file paths, on a small
// folder of JPEG and PNG files this test writes (odd sizes, grey, CMYK, one corrupt file).
#ifdef L2W_WITH_IMAGES

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "l2w/dataset/batch_loader.h"
#include "l2w/dataset/data_sets.h"
#include "l2w/dataset/image_decoding.h"
#include "l2w/dataset/image_folder.h"
#include "l2w/dataset/image_transforms.h"
#include "test_util.h"

namespace l2w {
namespace {

using dataset::RgbImage;

// A smooth colour gradient, so that JPEG compresses it as it would a photograph.
RgbImage gradient(int64_t h, int64_t w, int seed) {
  RgbImage image{h, w, std::vector<uint8_t>(static_cast<size_t>(h * w * 3))};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      uint8_t* p = image.pixels.data() + (y * w + x) * 3;
      p[0] = static_cast<uint8_t>((x * 255) / std::max<int64_t>(1, w - 1));
      p[1] = static_cast<uint8_t>((y * 255) / std::max<int64_t>(1, h - 1));
      p[2] = static_cast<uint8_t>((seed * 67) % 256);
    }
  return image;
}

class ImageFolderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = test::temp_dir("image_folder");
    namespace fs = std::filesystem;
    for (const char* split : {"train", "val"}) {
      const auto dir = fs::path(root_) / split;
      // Class folders created out of order: the mapping must sort them.
      for (const char* c : {"zebra", "cat", "dog"}) fs::create_directories(dir / c);
      dataset::write_jpeg((dir / "cat" / "b.jpg").string(), gradient(375, 500, 1));
      dataset::write_png((dir / "cat" / "a.PNG").string(), gradient(53, 37, 2));
      dataset::write_jpeg((dir / "dog" / "grey.jpeg").string(), gradient(64, 300, 3), 90, /*grey=*/true);
      dataset::write_jpeg((dir / "dog" / "cmyk.jpg").string(), gradient(200, 120, 4), 95, false, /*cmyk=*/true);
      dataset::write_jpeg((dir / "zebra" / "tall.jpg").string(), gradient(400, 17, 5));
      std::ofstream(dir / "zebra" / "notes.txt") << "not an image";
    }
    // A JPEG cut short.
    const auto good = (fs::path(root_) / "train" / "cat" / "b.jpg").string();
    const auto bad = (fs::path(root_) / "train" / "dog" / "broken.jpg").string();
    fs::copy_file(good, bad);
    fs::resize_file(bad, 600);
  }
  static std::string root_;
};
std::string ImageFolderTest::root_;

TEST_F(ImageFolderTest, ClassesInSortedOrderAndOnlyImages) {
  const auto folder = dataset::scan_image_folder(root_ + "/val");
  EXPECT_EQ(folder.classes, (std::vector<std::string>{"cat", "dog", "zebra"}));
  ASSERT_EQ(folder.files.size(), 5u);
  EXPECT_EQ(std::filesystem::path(folder.files[0]).filename(), "a.PNG");
  EXPECT_EQ(folder.labels, (std::vector<int64_t>{0, 0, 1, 1, 2}));
  EXPECT_THROW(dataset::scan_image_folder(root_ + "/nowhere"), dataset::DataError);
}

TEST_F(ImageFolderTest, DecodingGreyCmykAndPng) {
  const auto png = dataset::decode_image(root_ + "/val/cat/a.PNG");
  EXPECT_EQ(png.pixels, gradient(53, 37, 2).pixels);  // lossless
  const auto grey = dataset::decode_image(root_ + "/val/dog/grey.jpeg");
  ASSERT_EQ(grey.height, 64);
  ASSERT_EQ(grey.width, 300);
  for (size_t i = 0; i < grey.pixels.size(); i += 3) {
    EXPECT_EQ(grey.pixels[i], grey.pixels[i + 1]);
    EXPECT_EQ(grey.pixels[i], grey.pixels[i + 2]);
  }
  const auto cmyk = dataset::decode_image(root_ + "/val/dog/cmyk.jpg");
  const auto original = gradient(200, 120, 4);
  double error = 0;
  for (size_t i = 0; i < cmyk.pixels.size(); ++i) error += std::abs(int(cmyk.pixels[i]) - int(original.pixels[i]));
  EXPECT_LT(error / double(cmyk.pixels.size()), 3.0);  // the colours come back, up to JPEG's loss
  try {
    dataset::decode_image(root_ + "/train/dog/broken.jpg");
    ADD_FAILURE() << "a truncated JPEG decoded";
  } catch (const dataset::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jpg"), std::string::npos) << e.what();
  }
}

TEST(ImageTransforms, CropBoxesStayInsideAndConstantImagesStayConstant) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200; ++i) {
    const auto box = dataset::random_resized_crop_box(375, 500, rng);
    EXPECT_GE(box.top, 0);
    EXPECT_GE(box.left, 0);
    EXPECT_LE(box.top + box.height, 375);
    EXPECT_LE(box.left + box.width, 500);
    const double ratio = double(box.width) / double(box.height);
    EXPECT_GT(ratio, 0.7);
    EXPECT_LT(ratio, 1.4);
  }
  // A 1000x20 strip cannot hold a 3/4..4/3 box of 8% of its area in ten tries: the clamped centre crop.
  const auto fallback = dataset::random_resized_crop_box(1000, 20, rng, 0.9, 1.0);
  EXPECT_EQ(fallback.width, 20);
  EXPECT_EQ(fallback.height, 27);
  EXPECT_EQ(fallback.top, (1000 - 27) / 2);

  RgbImage flat{300, 400, std::vector<uint8_t>(300 * 400 * 3, 77)};
  std::vector<uint8_t> out(3 * 224 * 224);
  dataset::resized_crop(flat, {10, 20, 200, 250}, 224, true, out.data());
  for (auto v : out) ASSERT_EQ(v, 77);
  // Centre crop: a left-to-right ramp keeps its middle value in the middle column.
  const auto ramp = gradient(256, 512, 0);
  dataset::resize_center_crop(ramp, 256, 224, out.data());
  EXPECT_NEAR(out[112 * 224 + 112], 127, 2);  // red channel, centre pixel
}

// torchvision's arithmetic: Python's round() (halves to even) and int() truncation. The byte-for-byte
// comparison with Pillow is test/python/imagenet_pixels_check.py.
TEST(ImageTransforms, RoundingAndSizesAreTorchvisions) {
  EXPECT_EQ(dataset::round_half_even(58.5), 58);
  EXPECT_EQ(dataset::round_half_even(59.5), 60);
  EXPECT_EQ(dataset::round_half_even(0.5), 0);
  EXPECT_EQ(dataset::round_half_even(-1.5), -2);
  EXPECT_EQ(dataset::round_half_even(26.66), 27);
  EXPECT_EQ(dataset::round_half_even(2.4999), 2);
  EXPECT_EQ(dataset::shorter_side_size(375, 500, 256), (std::pair<int64_t, int64_t>{256, 341}));
  EXPECT_EQ(dataset::shorter_side_size(500, 375, 256), (std::pair<int64_t, int64_t>{341, 256}));
  EXPECT_EQ(dataset::shorter_side_size(7, 12, 256), (std::pair<int64_t, int64_t>{256, 438}));
  EXPECT_EQ(dataset::shorter_side_size(256, 256, 256), (std::pair<int64_t, int64_t>{256, 256}));
}

// A 4:3 image resized to 341 x 256 has its 224 crop 58.5 pixels in: torchvision takes column 58.
TEST(ImageTransforms, CentreCropOffsetRoundsHalfToEven) {
  RgbImage columns{256, 341, std::vector<uint8_t>(256 * 341 * 3)};
  for (int64_t y = 0; y < 256; ++y)
    for (int64_t x = 0; x < 341; ++x) columns.pixels[(y * 341 + x) * 3] = static_cast<uint8_t>(x);
  std::vector<uint8_t> out(3 * 224 * 224);
  dataset::resize_center_crop(columns, 256, 224, out.data());  // shorter side already 256: no resampling
  EXPECT_EQ(out[0], 58);
  EXPECT_EQ(out[150], 58 + 150);
  EXPECT_EQ(out[16 * 224], 58);  // row 16 (the vertical offset is 16 exactly)
  // A crop larger than the image: zero padding, the image's own pixels in the middle.
  RgbImage flat{64, 64, std::vector<uint8_t>(64 * 64 * 3, 200)};
  std::vector<uint8_t> padded(3 * 96 * 96);
  dataset::resize_center_crop(flat, 64, 96, padded.data());
  EXPECT_EQ(padded[15 * 96 + 15], 0);
  EXPECT_EQ(padded[16 * 96 + 16], 200);
  EXPECT_EQ(padded[79 * 96 + 79], 200);
  EXPECT_EQ(padded[80 * 96 + 80], 0);
}

TEST_F(ImageFolderTest, LoaderShapesRangesAndSeededDeterminism) {
  dataset::DataOptions options;
  options.name = "ImageNet";
  options.root = root_;
  const auto data = dataset::load_data(options);
  EXPECT_EQ(data.train->num_classes, 3);
  EXPECT_EQ(data.test->size(), 5);
  auto batches = [&](uint64_t seed, int64_t epoch) {
    dataset::BatchLoader loader(data.test, {}, dataset::LoaderOptions().batch_size(5).augment(true).seed(seed).workers(2));
    loader.start_epoch(epoch);
    return loader.next()->images;
  };
  const auto a = batches(7, 0);
  EXPECT_EQ(a.sizes(), torch::IntArrayRef({5, 3, 224, 224}));
  // Normalised bytes: within ((0 − mean)/std, (1 − mean)/std) per channel.
  EXPECT_GE(a.min().item<float>(), (0 - 0.485f) / 0.229f - 1e-4f);
  EXPECT_LE(a.max().item<float>(), (1 - 0.406f) / 0.225f + 1e-4f);
  EXPECT_TRUE(torch::equal(a, batches(7, 0)));
  EXPECT_FALSE(torch::equal(a, batches(7, 1)));
  EXPECT_FALSE(torch::equal(a, batches(8, 0)));
  // Evaluation: no randomness.
  dataset::BatchLoader eval(data.test, {}, dataset::LoaderOptions().batch_size(2));
  eval.start_epoch(0);
  const auto first = eval.next()->images;
  eval.start_epoch(3);
  EXPECT_TRUE(torch::equal(first, eval.next()->images));
}

TEST_F(ImageFolderTest, ABadFileStopsWithItsPathOrIsSkippedAndCounted) {
  dataset::DataOptions options;
  options.name = "ImageNet";
  options.root = root_;
  const auto data = dataset::load_data(options);
  ASSERT_EQ(data.train->size(), 6);
  dataset::BatchLoader strict(data.train, {}, dataset::LoaderOptions().batch_size(3));
  strict.start_epoch(0);
  try {
    while (strict.next()) {
    }
    ADD_FAILURE() << "the corrupt file went through";
  } catch (const dataset::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jpg"), std::string::npos) << e.what();
  }
  dataset::BatchLoader lenient(data.train, {}, dataset::LoaderOptions().batch_size(3).skip_bad_images(true));
  lenient.start_epoch(0);
  int64_t seen = 0;
  while (auto batch = lenient.next()) seen += batch->labels.size(0);
  EXPECT_EQ(seen, 5);
  EXPECT_EQ(lenient.bad_images(), 1);
}

}  // namespace
}  // namespace l2w

#endif  // L2W_WITH_IMAGES
