#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include "l2w/dataset/batch_loader.h"
#include "l2w/dataset/distributed_sampler.h"

namespace l2w {
namespace {

std::vector<int64_t> reversed(int64_t n) {
  std::vector<int64_t> order(n);
  std::iota(order.rbegin(), order.rend(), 0);
  return order;
}

TEST(DistributedSampler, PaddedShardsAreEqualDisjointAndCoverTheEpoch) {
  const auto order = reversed(10);
  std::multiset<int64_t> seen;
  for (int64_t r = 0; r < 3; ++r) {
    const auto shard = dataset::shard_of(order, 3, r, true);
    ASSERT_EQ(shard.samples.size(), 4u) << "rank " << r;
    EXPECT_EQ(dataset::shard_size(10, 3, r, true), 4);
    for (size_t j = 0; j < shard.samples.size(); ++j) {
      EXPECT_EQ(shard.positions[j], r + 3 * int64_t(j));
      EXPECT_EQ(shard.samples[j], order[shard.positions[j] % 10]);
      seen.insert(shard.samples[j]);
    }
  }
  // 12 slots for 10 samples: the padding repeats the head of the epoch (positions 10, 11 = 0, 1).
  EXPECT_EQ(seen.size(), 12u);
  for (int64_t s = 0; s < 10; ++s) EXPECT_EQ(seen.count(s), s == order[0] || s == order[1] ? 2u : 1u) << s;
}

TEST(DistributedSampler, UnpaddedShardsPartitionTheEpochAndUnshardRestoresItsOrder) {
  const auto order = reversed(10);
  std::vector<int64_t> rank_after_rank;
  for (int64_t r = 0; r < 3; ++r) {
    const auto shard = dataset::shard_of(order, 3, r, false);
    EXPECT_EQ(int64_t(shard.samples.size()), dataset::shard_size(10, 3, r, false));
    EXPECT_EQ(shard.samples.size(), r == 0 ? 4u : 3u);
    rank_after_rank.insert(rank_after_rank.end(), shard.samples.begin(), shard.samples.end());
  }
  const auto restored = dataset::unshard_rows(torch::tensor(rank_after_rank), 3);
  EXPECT_TRUE(torch::equal(restored, torch::tensor(order)));
  EXPECT_THROW(dataset::shard_of(order, 3, 3, true), std::invalid_argument);
}

TEST(DistributedSampler, TwoRanksOfBatchBSeeExactlyWhatOneProcessOfBatch2BSees) {
  auto ds = std::make_shared<dataset::ImageDataset>();
  ds->images = torch::randint(0, 256, {37, 1, 8, 8}, torch::kLong).to(torch::kUInt8);
  ds->labels = torch::arange(37) % 10;
  ds->num_classes = 10;
  ds->mean = {0.5f};
  ds->std = {0.25f};
  const auto options = dataset::LoaderOptions().shuffle(true).augment(true).seed(7).workers(2);
  dataset::BatchLoader one(ds, {}, dataset::LoaderOptions(options).batch_size(8));
  dataset::BatchLoader rank0(ds, {}, dataset::LoaderOptions(options).batch_size(4).world_size(2).rank(0));
  dataset::BatchLoader rank1(ds, {}, dataset::LoaderOptions(options).batch_size(4).world_size(2).rank(1));
  EXPECT_EQ(rank0.num_samples(), 19);
  EXPECT_EQ(rank0.num_batches(), one.num_batches());
  for (int64_t e : {0, 3}) {
    one.start_epoch(e);
    rank0.start_epoch(e);
    rank1.start_epoch(e);
    while (auto whole = one.next()) {
      const auto a = rank0.next(), b = rank1.next();
      ASSERT_TRUE(a && b);
      // Interleaved, the ranks' batches are the single process's batch, augmentation included; the
      // last one carries rank 0's padding sample (the epoch's first) in place of nothing.
      const auto images = dataset::unshard_rows(torch::cat({a->images, b->images}), 2);
      const auto indices = dataset::unshard_rows(torch::cat({a->indices, b->indices}), 2);
      const int64_t n = whole->indices.size(0);
      EXPECT_TRUE(torch::equal(indices.narrow(0, 0, n), whole->indices));
      EXPECT_TRUE(torch::equal(images.narrow(0, 0, n), whole->images));
    }
    EXPECT_FALSE(rank0.next());
  }
}

}  // namespace
}  // namespace l2w
