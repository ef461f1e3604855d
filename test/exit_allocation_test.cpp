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

}  // namespace
}  // namespace l2w
