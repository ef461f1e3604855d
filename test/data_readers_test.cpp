#ifdef L2W_HAVE_ZLIB
#include <zlib.h>
#endif

#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "l2w/dataset/cifar.h"
#include "l2w/dataset/data_sets.h"
#include "l2w/dataset/idx.h"
#include "test_util.h"

namespace l2w {
namespace {

using dataset::DataError;

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// `n` CIFAR records: label bytes then 3072 pixels whose first byte is the sample number.
std::vector<uint8_t> cifar_records(int n, const std::function<std::vector<uint8_t>(int)>& labels_prefix_per_record) {
  std::vector<uint8_t> out;
  for (int i = 0; i < n; ++i) {
    auto labels = labels_prefix_per_record(i);
    out.insert(out.end(), labels.begin(), labels.end());
    std::vector<uint8_t> pixels(3072, uint8_t(i * 3));
    pixels[1] = 200;
    out.insert(out.end(), pixels.begin(), pixels.end());
  }
  return out;
}

std::vector<uint8_t> idx_images(int n, int h, int w) {
  std::vector<uint8_t> out{0, 0, 8, 3, 0, 0, 0, uint8_t(n), 0, 0, 0, uint8_t(h), 0, 0, 0, uint8_t(w)};
  for (int i = 0; i < n * h * w; ++i) out.push_back(uint8_t(i % 251));
  return out;
}

std::vector<uint8_t> idx_labels(int n) {
  std::vector<uint8_t> out{0, 0, 8, 1, 0, 0, 0, uint8_t(n)};
  for (int i = 0; i < n; ++i) out.push_back(uint8_t(i % 10));
  return out;
}

#ifdef L2W_HAVE_ZLIB
void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}
#else
void write_gzip(const std::string&, const std::vector<uint8_t>&) { GTEST_SKIP() << "built without zlib"; }
#endif

TEST(Cifar10, ReadsAllTrainingBatchesInOrder) {
  const auto dir = test::temp_dir("cifar10");
  for (int b = 1; b <= 5; ++b)
    write_bytes(dir + "/data_batch_" + std::to_string(b) + ".bin",
                cifar_records(2, [b](int i) { return std::vector<uint8_t>{uint8_t((b + i) % 10)}; }));
  write_bytes(dir + "/test_batch.bin", cifar_records(3, [](int i) { return std::vector<uint8_t>{uint8_t(i)}; }));
  const auto train = dataset::load_cifar(dir, 10, true);
  EXPECT_EQ(train.size(), 10);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{10, 3, 32, 32}));
  EXPECT_EQ(train.labels[2].item<int64_t>(), 2);  // batch 2, record 0
  EXPECT_EQ(train.images[1][0][0][0].item<int>(), 3);
  EXPECT_EQ(train.images[1][0][0][1].item<int>(), 200);
  const auto test = dataset::load_cifar(dir, 10, false);
  EXPECT_EQ(test.size(), 3);
  EXPECT_EQ(test.labels[2].item<int64_t>(), 2);
}

TEST(Cifar100, UsesFineLabelsAndFindsTheArchiveSubfolder) {
  const auto dir = test::temp_dir("cifar100");
  std::filesystem::create_directories(dir + "/cifar-100-binary");
  write_bytes(dir + "/cifar-100-binary/train.bin",
              cifar_records(4, [](int i) { return std::vector<uint8_t>{uint8_t(19 - i), uint8_t(90 + i)}; }));
  const auto train = dataset::load_cifar(dir, 100, true);
  ASSERT_EQ(train.size(), 4);
  EXPECT_EQ(train.labels[3].item<int64_t>(), 93);
  EXPECT_EQ(train.num_classes, 100);
}

TEST(Cifar, TruncatedMissingAndBadLabelFilesAreNamed) {
  const auto dir = test::temp_dir("cifar_bad");
  auto records = cifar_records(2, [](int i) { return std::vector<uint8_t>{0, 1}; });
  records.resize(records.size() - 10);
  write_bytes(dir + "/train.bin", records);
  try {
    dataset::load_cifar(dir, 100, true);
    FAIL() << "accepted a truncated file";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("train.bin"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos);
  }
  try {
    dataset::load_cifar(dir, 100, false);
    FAIL() << "accepted a missing file";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("test.bin: missing"), std::string::npos);
  }
  write_bytes(dir + "/test_batch.bin", cifar_records(1, [](int) { return std::vector<uint8_t>{12}; }));
  EXPECT_THROW(dataset::load_cifar(dir, 10, false), DataError);
}

TEST(Idx, ReadsGzippedAndPlainFiles) {
  const auto dir = test::temp_dir("idx");
  write_gzip(dir + "/train-images-idx3-ubyte.gz", idx_images(5, 28, 28));
  if (::testing::Test::IsSkipped()) return;
  write_gzip(dir + "/train-labels-idx1-ubyte.gz", idx_labels(5));
  write_bytes(dir + "/t10k-images-idx3-ubyte", idx_images(3, 28, 28));
  write_bytes(dir + "/t10k-labels-idx1-ubyte", idx_labels(3));
  const auto train = dataset::load_idx(dir, true, 0.5f, 0.25f);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{5, 1, 28, 28}));
  EXPECT_EQ(train.labels[4].item<int64_t>(), 4);
  EXPECT_EQ(train.images[1][0][0][0].item<int>(), 784 % 251);
  const auto test = dataset::load_idx(dir, false, 0.5f, 0.25f);
  EXPECT_EQ(test.size(), 3);
}

TEST(Idx, TruncatedCorruptAndMismatchedFilesAreNamed) {
  const auto dir = test::temp_dir("idx_bad");
  auto images = idx_images(5, 28, 28);
  images.resize(images.size() - 1);
  write_bytes(dir + "/train-images-idx3-ubyte", images);
  write_bytes(dir + "/train-labels-idx1-ubyte", idx_labels(5));
  try {
    dataset::load_idx(dir, true, 0, 1);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("train-images-idx3-ubyte: header promises"), std::string::npos) << e.what();
  }
  write_bytes(dir + "/train-images-idx3-ubyte", idx_images(4, 28, 28));
  EXPECT_THROW(dataset::load_idx(dir, true, 0, 1), DataError);  // 5 labels for 4 images
  // A gzip file cut short.
  std::filesystem::remove(dir + "/train-images-idx3-ubyte");
  write_gzip(dir + "/train-images-idx3-ubyte.gz", idx_images(5, 28, 28));
  if (::testing::Test::IsSkipped()) return;
  const auto full = std::filesystem::file_size(dir + "/train-images-idx3-ubyte.gz");
  std::filesystem::resize_file(dir + "/train-images-idx3-ubyte.gz", full / 2);
  EXPECT_THROW(dataset::load_idx(dir, true, 0, 1), DataError);
  // Not an IDX file at all.
  write_bytes(dir + "/t10k-images-idx3-ubyte", std::vector<uint8_t>(100, 7));
  write_bytes(dir + "/t10k-labels-idx1-ubyte", idx_labels(1));
  EXPECT_THROW(dataset::load_idx(dir, false, 0, 1), DataError);
}

TEST(FashionMnist, DebianPackageLoadsWithItsStatedStatistics) {
  if (!std::filesystem::exists(L2W_FASHION_MNIST)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto data = dataset::load_data({"fashion-mnist", "", 0, 0});
  EXPECT_EQ(data.train->size(), 60000);
  EXPECT_EQ(data.test->size(), 10000);
  const auto pixels = data.train->images.to(torch::kFloat64) / 255.0;
  EXPECT_NEAR(pixels.mean().item<double>(), dataset::kFashionMnistMean, 1e-4);
  EXPECT_NEAR(pixels.std().item<double>(), dataset::kFashionMnistStd, 1e-4);
}

}  // namespace
}  // namespace l2w
