#include <algorithm>

#include <gtest/gtest.h>

#include "l2w/criterion/exit_allocation.h"

namespace l2w {
namespace {

TEST(TargetProportions, GeometricAndNormalised) {
  const auto q = criterion::target_proportions(15, 3);  // p = 0.75
  const double s = 0.75 + 0.5625 + 0.421875;
  EXPECT_NEAR(q[0], 0.75 / s, 1e-6);
  EXPECT_NEAR(q[2], 0.421875 / s, 1e-6);
  const auto flat = criterion::target_proportions(20, 4);  // p = 1: uniform
  for (float v : flat) EXPECT_FLOAT_EQ(v, 0.25f);
}

TEST(ExitAllocation, TakesTheMostConfidentNotYetTakenWithFloorRounding) {
  // 5 samples, 3 exits; q = (0.5, 0.3, 0.2): exit 1 takes floor(2.5) = 2, exit 2 floor(1.5) = 1.
  const auto conf = torch::tensor({{0.9, 0.1, 0.0},
                                   {0.2, 0.8, 0.0},
                                   {0.7, 0.9, 0.0},
                                   {0.95, 0.3, 0.0},
                                   {0.1, 0.2, 0.0}});
  const auto exits = criterion::allocate_exits(conf, {0.5f, 0.3f, 0.2f});
  // Exit 1: samples 3 (0.95) and 0 (0.9). Exit 2 among 1, 2, 4: sample 2 (0.9). The rest to exit 3.
  EXPECT_EQ(exits, (std::vector<int64_t>{0, 2, 1, 0, 2}));
}

TEST(ExitAllocation, TiesKeepSampleOrderAndZeroQuotasLeaveExitsEmpty) {
  const auto conf = torch::full({4, 3}, 0.5);
  // floor(4 * 0.5) = 2 ties broken by index; floor(4 * 0.1) = 0: exit 2 gets nobody.
  EXPECT_EQ(criterion::allocate_exits(conf, {0.5f, 0.1f, 0.4f}), (std::vector<int64_t>{0, 0, 2, 2}));
  // All mass at the last exit.
  EXPECT_EQ(criterion::allocate_exits(conf, {0.0f, 0.0f, 1.0f}), (std::vector<int64_t>{2, 2, 2, 2}));
}

std::vector<int64_t> as_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kCPU).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// The device allocation (no host reads in the training step) against the host's, exactly: random
// confidences, confidences drawn from a few values (ties everywhere), and float32 softmax maxima.
TEST(ExitAllocation, OnTheDeviceEqualsTheHostOne) {
  torch::manual_seed(3);
  for (int64_t exits : {2, 3, 5}) {
    for (int64_t p_index : {1, 10, 15, 20}) {
      const auto q = criterion::target_proportions(p_index, exits);
      for (int64_t n : {1, 2, 7, 32, 257}) {
        const torch::Tensor cases[] = {torch::rand({n, exits}),
                                       torch::randint(0, 3, {n, exits}).to(torch::kFloat32) / 2,
                                       torch::full({n, exits}, 0.25f),
                                       torch::softmax(torch::randn({n, exits, 4}), 2).amax(2)};
        for (const auto& conf : cases) {
          const auto device = criterion::allocate_exits_on_device(conf, q);
          ASSERT_EQ(as_vector(device), criterion::allocate_exits(conf, q)) << n << " samples, " << exits << " exits";
          // Grouped by exit, ascending, with the quotas' sizes.
          const auto rows = criterion::rows_by_exit(device, q);
          const auto counts = criterion::exit_counts(n, q);
          ASSERT_EQ(rows.size(), static_cast<size_t>(exits));
          for (int64_t k = 0; k < exits; ++k) {
            ASSERT_EQ(rows[k].numel(), counts[k]);
            const auto r = as_vector(rows[k]);
            EXPECT_TRUE(std::is_sorted(r.begin(), r.end()));
            for (int64_t i : r) EXPECT_EQ(as_vector(device)[i], k);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace l2w
