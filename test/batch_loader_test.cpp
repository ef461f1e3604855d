#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "l2w/dataset/batch_loader.h"
#include "l2w/dataset/cifar.h"
#include "l2w/dataset/transforms.h"
#include "test_util.h"

namespace l2w {
namespace {

std::shared_ptr<dataset::ImageDataset> numbered(int64_t n) {
  auto ds = std::make_shared<dataset::ImageDataset>();
  ds->images = torch::randint(0, 256, {n, 1, 8, 8}, torch::kLong).to(torch::kUInt8);
  ds->labels = torch::arange(n) % 10;
  ds->num_classes = 10;
  ds->mean = {0.5f};
  ds->std = {0.25f};
  return ds;
}

std::vector<dataset::Batch> epoch(dataset::BatchLoader& loader, int64_t e) {
  std::vector<dataset::Batch> out;
  loader.start_epoch(e);
  while (auto b = loader.next()) out.push_back(*b);
  return out;
}

TEST(BatchLoader, EveryoneOnceInOrderWithoutShuffle) {
  auto ds = numbered(23);
  dataset::BatchLoader loader(ds, {}, dataset::LoaderOptions().batch_size(5).workers(3));
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_EQ(batches.back().labels.size(0), 3);
  int64_t expected = 0;
  for (const auto& b : batches) {
    for (int64_t i = 0; i < b.indices.size(0); ++i) EXPECT_EQ(b.indices[i].item<int64_t>(), expected++);
  }
  // Normalised: (x / 255 - 0.5) / 0.25.
  const auto first = ds->images[0].to(torch::kFloat32) / 255.0 * 4.0 - 2.0;
  EXPECT_TRUE(torch::allclose(batches[0].images[0], first, 1e-5, 1e-5));
}

// The reference normalises with torchvision: ToTensor (x / 255 in float32), then Normalize ((x - mean) / std with
// float32 tensors). An evaluation batch of a CIFAR-10 file equals that arithmetic bit for bit.
TEST(BatchLoader, CifarBatchIsBitwiseTorchvisionsToTensorThenNormalize) {
  const auto dir = test::temp_dir("cifar_normalise");
  torch::manual_seed(3);
  const auto pixels = torch::randint(0, 256, {16, 3072}, torch::kLong).to(torch::kUInt8);
  pixels[0].copy_(torch::arange(3072) % 256);  // every byte value, in every channel
  {
    std::ofstream file(dir + "/test_batch.bin", std::ios::binary);
    for (int64_t i = 0; i < 16; ++i) {
      file.put(static_cast<char>(i % 10));
      file.write(reinterpret_cast<const char*>(pixels[i].data_ptr<uint8_t>()), 3072);
    }
  }
  auto ds = std::make_shared<dataset::ImageDataset>(dataset::load_cifar(dir, 10, false));
  dataset::BatchLoader loader(ds, {}, dataset::LoaderOptions().batch_size(16));
  const auto batch = epoch(loader, 0).at(0);

  const auto mean = torch::tensor(ds->mean, torch::kFloat32).view({3, 1, 1});
  const auto std = torch::tensor(ds->std, torch::kFloat32).view({3, 1, 1});
  const auto x = pixels.view({16, 3, 32, 32}).to(torch::kFloat32).div(255);
  EXPECT_TRUE(torch::equal(batch.images, x.sub(mean).div(std)));
  // The folded form x · (1 / (255 σ)) − μ / σ rounds differently: the check above can tell them apart.
  const auto folded = pixels.view({16, 3, 32, 32}).to(torch::kFloat32) * (1.0f / (255.0f * std)) - mean / std;
  EXPECT_FALSE(torch::equal(batch.images, folded));
}

TEST(BatchLoader, ShuffleAndAugmentationDependOnlyOnSeedAndEpoch) {
  auto ds = numbered(40);
  auto options = dataset::LoaderOptions().batch_size(8).shuffle(true).augment(true).seed(7);
  dataset::BatchLoader one_worker(ds, {}, options.workers(1));
  dataset::BatchLoader three_workers(ds, {}, options.workers(3));
  const auto a = epoch(one_worker, 2);
  const auto b = epoch(three_workers, 2);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i].indices, b[i].indices));
    EXPECT_TRUE(torch::equal(a[i].images, b[i].images));
  }
  const auto other_epoch = epoch(one_worker, 3);
  EXPECT_FALSE(torch::equal(a[0].indices, other_epoch[0].indices));
  std::set<int64_t> seen;
  for (const auto& batch : other_epoch)
    for (int64_t i = 0; i < batch.indices.size(0); ++i) seen.insert(batch.indices[i].item<int64_t>());
  EXPECT_EQ(seen.size(), 40u);
}

TEST(BatchLoader, SubsetIsRespected) {
  auto ds = numbered(20);
  dataset::BatchLoader loader(ds, {3, 5, 7}, dataset::LoaderOptions().batch_size(2).shuffle(true));
  const auto batches = epoch(loader, 0);
  std::set<int64_t> seen;
  for (const auto& b : batches)
    for (int64_t i = 0; i < b.indices.size(0); ++i) seen.insert(b.indices[i].item<int64_t>());
  EXPECT_EQ(seen, (std::set<int64_t>{3, 5, 7}));
}

TEST(Transforms, CropStaysInsideThePaddedImageAndFlipMirrors) {
  const dataset::ImageGeometry g{1, 4, 4};
  std::vector<uint8_t> src(16);
  for (int i = 0; i < 16; ++i) src[i] = uint8_t(i + 1);
  std::vector<uint8_t> dst(16);
  std::set<std::vector<uint8_t>> outcomes;
  for (uint64_t s = 0; s < 400; ++s) {
    std::mt19937_64 rng(s);
    dataset::random_crop_flip(src.data(), dst.data(), g, 1, true, rng);
    outcomes.insert(dst);
    // Every output pixel is zero padding or a source pixel; rows stay rows of the source.
    for (int i = 0; i < 16; ++i) EXPECT_LE(dst[i], 16);
  }
  // 3 x 3 offsets x 2 flips.
  EXPECT_EQ(outcomes.size(), 18u);
  std::mt19937_64 rng(1);
  dataset::random_crop_flip(src.data(), dst.data(), g, 0, false, rng);
  EXPECT_EQ(dst, src);
}

}  // namespace
}  // namespace l2w
