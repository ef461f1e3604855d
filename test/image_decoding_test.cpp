// Damaged image files: JPEG and PNG files written by libjpeg and libpng, cut at several points and with
// bytes flipped, are refused with the file's name, as PIL refuses them, never decoded into grey or garbled
// pixels.
#ifdef L2W_WITH_IMAGES

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "l2w/dataset/image_dataset.h"
#include "l2w/dataset/image_decoding.h"
#include "image_bombs.h"
#include "test_util.h"

namespace l2w {
namespace {

using dataset::RgbImage;

// Smooth gradients with noise, so that the entropy-coded data is long, as in a photograph.
RgbImage photo_like(int64_t h, int64_t w) {
  RgbImage image{h, w, std::vector<uint8_t>(static_cast<size_t>(h * w * 3))};
  std::mt19937 rng(5);
  for (int64_t i = 0; i < h * w; ++i)
    for (int c = 0; c < 3; ++c)
      image.pixels[i * 3 + c] = static_cast<uint8_t>((i % w) * (c + 1) + (i / w) * 2 + rng() % 24);
  return image;
}

std::vector<uint8_t> read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string decode_error(const std::string& path) {
  try {
    dataset::decode_image(path);
  } catch (const dataset::DataError& e) {
    return e.what();
  }
  return "";
}

class DamagedImages : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("damaged_images");
    dataset::write_jpeg(dir_ + "/whole.jpg", photo_like(120, 160));
    dataset::write_png(dir_ + "/whole.png", photo_like(120, 160));
  }
  // Writes `bytes` to NAME and returns its decoding error.
  std::string error_of(const std::string& name, const std::vector<uint8_t>& bytes) {
    write(dir_ + "/" + name, bytes);
    return decode_error(dir_ + "/" + name);
  }
  std::string dir_;
};

TEST_F(DamagedImages, WholeFilesDecode) {
  EXPECT_EQ(decode_error(dir_ + "/whole.jpg"), "");
  EXPECT_EQ(decode_error(dir_ + "/whole.png"), "");
}

TEST_F(DamagedImages, CutJpegsAreRefused) {
  const auto whole = read(dir_ + "/whole.jpg");
  ASSERT_GT(whole.size(), 5000u);
  for (size_t cut : {size_t{300}, whole.size() / 2, whole.size() - 3}) {
    const std::string name = "cut_" + std::to_string(cut) + ".jpg";
    const auto message = error_of(name, std::vector<uint8_t>(whole.begin(), whole.begin() + cut));
    EXPECT_NE(message.find(dir_ + "/" + name + ": cannot decode JPEG"), std::string::npos) << cut << ": " << message;
  }
  EXPECT_NE(error_of("cut_middle.jpg", std::vector<uint8_t>(whole.begin(), whole.begin() + whole.size() / 2))
                .find("Premature end of JPEG file"),
            std::string::npos);
}

// A flipped byte in entropy-coded data often decodes silently into other pixels (PIL's libjpeg does the
// same); the ones libjpeg notices are refused. Turning a byte into 0xFF makes a marker in the middle of the
// scan, which it always notices.
TEST_F(DamagedImages, JpegsWithAMarkerFlippedIntoTheScanAreRefused) {
  const auto whole = read(dir_ + "/whole.jpg");
  for (size_t at : {whole.size() / 3, whole.size() / 2, 2 * whole.size() / 3}) {
    auto bytes = whole;
    while (bytes[at] == 0xFF || bytes[at + 1] == 0x00 || bytes[at + 1] == 0xFF) ++at;  // 0xFF 0x00 is data
    bytes[at] = 0xFF;
    const std::string name = "flipped_" + std::to_string(at) + ".jpg";
    const auto message = error_of(name, bytes);
    EXPECT_NE(message.find("Corrupt JPEG data"), std::string::npos) << at << ": " << message;
  }
}

TEST_F(DamagedImages, JunkBeforeTheEndMarkerIsTolerated) {
  auto bytes = read(dir_ + "/whole.jpg");
  bytes.insert(bytes.end() - 2, {0x12, 0x34, 0x56});
  EXPECT_EQ(error_of("junk_at_end.jpg", bytes), "");
}

TEST_F(DamagedImages, CutAndFlippedPngsAreRefused) {
  const auto whole = read(dir_ + "/whole.png");
  for (size_t cut : {size_t{20}, whole.size() / 2, whole.size() - 3}) {
    const std::string name = "cut_" + std::to_string(cut) + ".png";
    const auto message = error_of(name, std::vector<uint8_t>(whole.begin(), whole.begin() + cut));
    EXPECT_NE(message.find(dir_ + "/" + name + ": cannot decode PNG"), std::string::npos) << cut << ": " << message;
  }
  for (size_t at : {size_t{18}, whole.size() / 2}) {  // inside IHDR, inside the image data
    auto bytes = whole;
    bytes[at] ^= 0x01;
    const auto message = error_of("flipped_" + std::to_string(at) + ".png", bytes);
    EXPECT_NE(message.find("cannot decode PNG"), std::string::npos) << at << ": " << message;
  }
}

// The header alone gives an image's size, and an image whose header declares more pixels than allowed
// is refused before its pixels are decoded: a 110 kB PNG of 30000 x 30000 and a 1 kB JPEG claiming 65000
// x 65000 (decompression bombs), while the limit itself is still decoded.
TEST_F(DamagedImages, HeadersGiveTheSizeAndBombsAreRefusedBeforeDecoding) {
  const auto header = dataset::read_image_header(read(dir_ + "/whole.jpg"), "whole.jpg");
  EXPECT_EQ(header.height, 120);
  EXPECT_EQ(header.width, 160);
  EXPECT_EQ(header.channels, 3);
  EXPECT_EQ(dataset::read_image_header(read(dir_ + "/whole.png"), "whole.png").width, 160);
  EXPECT_EQ(dataset::decode_image_bytes(read(dir_ + "/whole.png"), "whole.png", 120 * 160).width, 160);
  EXPECT_THROW(dataset::decode_image_bytes(read(dir_ + "/whole.png"), "whole.png", 120 * 160 - 1), dataset::ImageTooLarge);

  const auto png = test::bomb_png(30000, 30000);
  EXPECT_LT(png.size(), 200000u);
  EXPECT_EQ(dataset::read_image_header(png, "bomb.png").height, 30000);
  write(dir_ + "/bomb.png", png);
  try {
    dataset::decode_image(dir_ + "/bomb.png");  // the folder reader's limit: what Pillow refuses
    ADD_FAILURE() << "the bomb was decoded";
  } catch (const dataset::ImageTooLarge& e) {
    EXPECT_EQ(e.height, 30000);
    EXPECT_EQ(std::string(e.what()), dir_ + "/bomb.png: the image is 30000x30000 pixels, more than the 178956970 this reader decodes");
  }
  const auto jpeg = test::bomb_jpeg(read(dir_ + "/whole.jpg"), 65000, 65000);
  EXPECT_EQ(dataset::read_image_header(jpeg, "bomb.jpg").width, 65000);
  EXPECT_THROW(dataset::decode_image_bytes(jpeg, "bomb.jpg"), dataset::ImageTooLarge);
}

}  // namespace
}  // namespace l2w

#endif  // L2W_WITH_IMAGES
