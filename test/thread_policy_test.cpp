#include <limits>

#include <gtest/gtest.h>

#include "l2w/infer/thread_policy.h"
#include "test_util.h"

namespace l2w {
namespace {

TEST(ThreadPolicy, CountsToTryArePowersOfTwoAndTheCores) {
  EXPECT_EQ(infer::thread_counts_to_try(1), (std::vector<int>{1}));
  EXPECT_EQ(infer::thread_counts_to_try(2), (std::vector<int>{1, 2}));
  EXPECT_EQ(infer::thread_counts_to_try(6), (std::vector<int>{1, 2, 4, 6}));
  EXPECT_EQ(infer::thread_counts_to_try(16), (std::vector<int>{1, 2, 4, 8, 16}));
}

TEST(ThreadPolicy, IntraOpThreadsComeBackAfterTheScope) {
  const int before = at::get_num_threads();
  {
    infer::IntraOpThreads one(1);
    EXPECT_EQ(at::get_num_threads(), 1);
  }
  EXPECT_EQ(at::get_num_threads(), before);
}

TEST(ThreadPolicy, ChoosesACountNoOtherBeatsByMoreThanThreePercent) {
  torch::manual_seed(0);
  models::MultiExitNetwork net = std::make_shared<models::MSDNetImpl>(test::tiny_msdnet());
  net->eval();
  infer::EarlyExitClassifier whole(net, std::vector<float>(size_t(net->num_exits()), std::numeric_limits<float>::infinity()));
  const int before = at::get_num_threads();
  const auto choice = infer::fastest_latency_threads(whole, torch::randn({1, 3, 32, 32}), {1, 2}, /*repeats=*/8);
  EXPECT_EQ(at::get_num_threads(), before);
  EXPECT_EQ(choice.tried, (std::vector<int>{1, 2}));
  ASSERT_EQ(choice.median_ms.size(), 2u);
  const size_t chosen = choice.threads == 1 ? 0 : 1;
  EXPECT_EQ(choice.tried[chosen], choice.threads);
  for (double ms : choice.median_ms) {
    EXPECT_GT(ms, 0.0);
    EXPECT_GE(ms, 0.97 * choice.median_ms[chosen]);
  }
  if (chosen == 1) {
    EXPECT_LT(choice.median_ms[1], 0.97 * choice.median_ms[0]);  // more threads only when clearly faster
  }
}

}  // namespace
}  // namespace l2w
