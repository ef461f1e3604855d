#include <limits>

#include <gtest/gtest.h>

#include "l2w/eval/dynamic.h"
#include "l2w/criterion/exit_allocation.h"

namespace l2w {
namespace {

eval::ExitConfidences make(std::vector<std::vector<float>> conf, std::vector<std::vector<bool>> right) {
  const int64_t k = conf.size(), n = conf[0].size();
  eval::ExitConfidences e{torch::empty({k, n}), torch::empty({k, n}, torch::kBool)};
  for (int64_t a = 0; a < k; ++a)
    for (int64_t i = 0; i < n; ++i) {
      e.confidence[a][i] = conf[a][i];
      e.correct[a][i] = bool(right[a][i]);
    }
  return e;
}

const std::vector<nn::Cost> kCosts{{100, 0}, {250, 0}, {400, 0}};

TEST(DynamicEvaluation, HandComputedThresholdsAccuracyAndCost) {
  // 4 validation samples; q = (0.5, 0.25, 0.25): exit 1 takes floor(2) = 2, exit 2 floor(1) = 1.
  const auto valid = make({{0.9f, 0.6f, 0.8f, 0.3f}, {0.2f, 0.7f, 0.9f, 0.5f}, {0, 0, 0, 0}},
                          {{true, true, true, true}, {true, true, true, true}, {true, true, true, true}});
  const auto t = eval::find_thresholds(valid.confidence, {0.5f, 0.25f, 0.25f});
  EXPECT_FLOAT_EQ(t[0], 0.8f);  // second most confident at exit 1
  EXPECT_FLOAT_EQ(t[1], 0.7f);  // samples 0 and 2 are taken; among 1 and 3, sample 1 (0.7)
  EXPECT_EQ(t[2], -std::numeric_limits<float>::infinity());
  // Test: sample 0 leaves at exit 1 (right), 1 at exit 2 (wrong), 2 at exit 3 (right), 3 at exit 1 (wrong).
  const auto test = make({{0.85f, 0.1f, 0.5f, 0.8f}, {0.0f, 0.75f, 0.1f, 0.0f}, {0, 0, 0, 0}},
                         {{true, false, false, false}, {false, false, false, false}, {false, false, true, false}});
  const auto r = eval::evaluate_with_thresholds(test, t, kCosts);
  EXPECT_EQ(r.exit_counts, (std::vector<int64_t>{2, 1, 1}));
  EXPECT_DOUBLE_EQ(r.accuracy, 50.0);
  EXPECT_DOUBLE_EQ(r.expected_muladds, 0.5 * 100 + 0.25 * 250 + 0.25 * 400);
}

TEST(DynamicEvaluation, TiesAtAThresholdAllLeave) {
  // Three samples tie at 0.5; the quota of 1 sets T = 0.5 and all three count as assigned.
  const auto valid = make({{0.5f, 0.5f, 0.5f, 0.1f}, {0.9f, 0.9f, 0.9f, 0.2f}, {0, 0, 0, 0}},
                          {{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}});
  const auto t = eval::find_thresholds(valid.confidence, {0.25f, 0.25f, 0.5f});
  EXPECT_FLOAT_EQ(t[0], 0.5f);
  EXPECT_FLOAT_EQ(t[1], 0.2f);  // only sample 3 is left for exit 2
  EXPECT_EQ(eval::evaluate_with_thresholds(valid, t, kCosts).exit_counts, (std::vector<int64_t>{3, 1, 0}));
}

TEST(DynamicEvaluation, ZeroQuotasAndAllMassAtTheLastExit) {
  const auto valid = make({{0.9f, 0.8f, 0.7f}, {0.9f, 0.8f, 0.7f}, {0, 0, 0}}, {{1, 1, 1}, {1, 1, 1}, {1, 0, 1}});
  // floor(3 · 0.2) = 0: exits 1 and 2 never reach their quota, T = +inf.
  const auto t = eval::find_thresholds(valid.confidence, {0.2f, 0.2f, 0.6f});
  EXPECT_EQ(t[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(t[1], std::numeric_limits<float>::infinity());
  const auto r = eval::evaluate_with_thresholds(valid, t, kCosts);
  EXPECT_EQ(r.exit_counts, (std::vector<int64_t>{0, 0, 3}));
  EXPECT_DOUBLE_EQ(r.expected_muladds, 400.0);
  EXPECT_NEAR(r.accuracy, 200.0 / 3.0, 1e-12);
}

TEST(DynamicEvaluation, SweepHas39PointsWithGrowingCost) {
  torch::manual_seed(0);
  eval::ExitOutputs outputs;
  for (int k = 0; k < 3; ++k) outputs.logits.push_back(torch::randn({200, 10}) * (k + 1));
  outputs.labels = torch::randint(10, {200}, torch::kLong);
  const auto conf = eval::exit_confidences(outputs);
  const auto points = eval::dynamic_sweep(conf, conf, kCosts);
  ASSERT_EQ(points.size(), 39u);
  // Larger p puts less mass on exit 1 relative to later exits: the cost grows with p.
  EXPECT_LT(points.front().test.expected_muladds, points.back().test.expected_muladds);
  for (const auto& p : points) {
    int64_t total = 0;
    for (auto c : p.test.exit_counts) total += c;
    EXPECT_EQ(total, 200);
  }
}

TEST(DynamicEvaluation, BudgetPicksTheMostExpensiveSweepPointThatFits) {
  torch::manual_seed(1);
  eval::ExitOutputs outputs;
  for (int k = 0; k < 3; ++k) outputs.logits.push_back(torch::randn({300, 10}) * (k + 1));
  outputs.labels = torch::randint(10, {300}, torch::kLong);
  const auto valid = eval::exit_confidences(outputs);
  double best_cost = -1;
  int64_t best_p = 0;
  for (const auto& p : eval::dynamic_sweep(valid, valid, kCosts))
    if (p.test.expected_muladds <= 250.0 && p.test.expected_muladds > best_cost) {
      best_cost = p.test.expected_muladds;
      best_p = p.p_index;
    }
  ASSERT_GT(best_p, 0);
  const auto chosen = eval::thresholds_for_budget(valid, kCosts, 250.0);
  EXPECT_EQ(chosen.p_index, best_p);
  EXPECT_DOUBLE_EQ(chosen.valid_expected_muladds, best_cost);
  EXPECT_EQ(chosen.thresholds, eval::find_thresholds(valid.confidence, criterion::target_proportions(best_p, 3)));
  EXPECT_EQ(chosen.exit_muladds, (std::vector<int64_t>{100, 250, 400}));
  // The whole network fits a budget of its own cost; nothing fits below exit 1's.
  EXPECT_LE(eval::thresholds_for_budget(valid, kCosts, 400.0).valid_expected_muladds, 400.0);
  EXPECT_THROW(eval::thresholds_for_budget(valid, kCosts, 99.0), std::invalid_argument);
}

}  // namespace
}  // namespace l2w
