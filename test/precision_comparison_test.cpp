#include <algorithm>

#include <gtest/gtest.h>

#include "l2w/eval/precision_comparison.h"

namespace l2w {
namespace {

// Two exits, 100 images of 4 classes; logits that make exit 1 right on the first 60 images.
eval::ExitOutputs outputs_of(int64_t n = 100) {
  torch::manual_seed(0);
  eval::ExitOutputs out;
  out.labels = torch::arange(n) % 4;
  for (int exit = 0; exit < 2; ++exit) {
    auto logits = torch::randn({n, 4});
    const auto right = torch::arange(n).lt(exit == 0 ? 60 : 80);
    logits.index_put_({right, out.labels.index({right})}, 10.0);
    out.logits.push_back(logits);
  }
  return out;
}

std::vector<nn::Cost> two_exit_costs() {
  std::vector<nn::Cost> costs(2);
  costs[0].muladds = 100, costs[1].muladds = 300;
  return costs;
}

TEST(PrecisionComparison, IdenticalOutputsAgreeEverywhere) {
  const auto test = outputs_of();
  const auto valid = eval::exit_confidences(outputs_of());
  const auto c = eval::compare_precisions(test, test, valid, valid, criterion::ExitCriterion::kMaxProb, two_exit_costs());
  ASSERT_EQ(c.exits.size(), 2u);
  EXPECT_DOUBLE_EQ(c.exits[0].top1, c.exits[0].reference_top1);
  EXPECT_DOUBLE_EQ(c.exits[0].same_class, 100.0);
  ASSERT_EQ(c.budgets.size(), size_t(eval::kNumBudgets));
  EXPECT_DOUBLE_EQ(c.largest_budget_difference(), 0.0);
  EXPECT_DOUBLE_EQ(c.least_same_exit(), 100.0);
}

TEST(PrecisionComparison, CountsChangedClassesAndExits) {
  const auto reference = outputs_of();
  auto changed = reference;
  changed.logits[0] = reference.logits[0].clone();
  // Image 0 (right at exit 1, very confident) now chooses another class at exit 1, barely.
  changed.logits[0][0] = torch::tensor({0.f, 0.f, 0.f, 0.f});
  changed.logits[0][0][(reference.labels[0].item<int64_t>() + 1) % 4] = 0.01f;
  const auto valid = eval::exit_confidences(reference);
  const auto c =
      eval::compare_precisions(reference, changed, valid, valid, criterion::ExitCriterion::kMaxProb, two_exit_costs());
  EXPECT_DOUBLE_EQ(c.exits[0].same_class, 99.0);
  EXPECT_NEAR(c.exits[0].top1 - c.exits[0].reference_top1, -1.0, 1e-9);
  EXPECT_DOUBLE_EQ(c.exits[1].same_class, 100.0);
  // Unconfident now, image 0 goes on to exit 2 wherever exit 1 took it before.
  EXPECT_DOUBLE_EQ(c.least_same_exit(), 99.0);
  EXPECT_LE(c.largest_budget_difference(), 1.0 + 1e-9);
  const auto table = eval::budget_comparison_table(c);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), eval::kNumBudgets + 1);
  const auto summary = eval::comparison_summary(c);
  EXPECT_NE(summary.find("same exit for at least 99.00% of test images"), std::string::npos) << summary;
}

TEST(PrecisionComparison, WithoutValidationOutputsOnlyTheExitsAreCompared) {
  const auto test = outputs_of();
  const auto c = eval::compare_precisions(test, test, {}, {}, criterion::ExitCriterion::kMaxProb, two_exit_costs());
  EXPECT_EQ(c.exits.size(), 2u);
  EXPECT_TRUE(c.budgets.empty());
}

}  // namespace
}  // namespace l2w
