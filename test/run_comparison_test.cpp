#include <cmath>

#include <gtest/gtest.h>

#include "l2w/report/run_comparison.h"

namespace l2w {
namespace {

// Two hand-made runs. A's full network costs 4 M MUL-ADDs; budgets of 25/50/75/100 % are 1, 2, 3, 4 M.
report::RunCurve run_a(double shift = 0) {
  // The dynamic points out of cost order on purpose.
  return {"a", {{2e6, 70 + shift}, {1e6, 50 + shift}, {4e6, 80 + shift}}, {{1e6, 48}, {2e6, 69}, {4e6, 81}},
          "exits", {}, std::nullopt};
}

report::RunCurve run_b() {
  return {"b", {{1.5e6, 60}, {3e6, 84}}, {{1e6, 50}, {2e6, 72}, {4e6, 85}}, "exits", {}, std::nullopt};
}

TEST(RunComparison, InterpolatesOnTheDynamicCurve) {
  const auto a = run_a().dynamic;
  EXPECT_DOUBLE_EQ(report::accuracy_at(a, 1e6), 50);
  EXPECT_DOUBLE_EQ(report::accuracy_at(a, 3e6), 75);    // halfway between 70 at 2 M and 80 at 4 M
  EXPECT_DOUBLE_EQ(report::accuracy_at(a, 9e6), 80);    // above the costliest point: its accuracy
  EXPECT_TRUE(std::isnan(report::accuracy_at(a, 0.5e6)));  // below the cheapest: unreachable
}

TEST(RunComparison, HandComputedTable) {
  const auto c = report::compare({{"a", {run_a()}}, {"b", {run_b()}}}, {0.25, 0.5, 0.75, 1.0});
  EXPECT_DOUBLE_EQ(c.full_muladds, 4e6);
  ASSERT_EQ(c.rows.size(), 4u);
  const double a[] = {50, 70, 75, 80}, b[] = {NAN, 68, 84, 84}, diff[] = {NAN, -2, 9, 4};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(c.rows[i].muladds, (i + 1) * 1e6);
    EXPECT_DOUBLE_EQ(c.rows[i].accuracy[0].mean, a[i]);
    if (std::isnan(b[i])) {
      EXPECT_TRUE(std::isnan(c.rows[i].accuracy[1].mean));
      EXPECT_TRUE(std::isnan(c.rows[i].differences[0].mean));
    } else {
      EXPECT_NEAR(c.rows[i].accuracy[1].mean, b[i], 1e-12);  // 60 + (0.5 / 1.5) · 24 = 68 at 2 M
      EXPECT_NEAR(c.rows[i].differences[0].mean, diff[i], 1e-12);
    }
  }
  const auto table = report::comparison_table(c);
  EXPECT_NE(table.find("50% (2.000 M)    70.00   68.00   -2.00"), std::string::npos) << table;
  EXPECT_NE(table.find("25% (1.000 M)    50.00   n/a     n/a"), std::string::npos) << table;
  // Why: b's curve starts at 1.5 M, 38 % of a's full network.
  EXPECT_NE(table.find("n/a: the budget is below the cheapest point of the method's curve: a 1.000 M (25%), "
                       "b 1.500 M (38%); the first exit alone costs 1.000 M (25%)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("3      4.000          81.00       85.00"), std::string::npos) << table;
  const auto markdown = report::comparison_markdown(c);
  EXPECT_NE(markdown.find("| 75% (3.000 M) | 75.00 | 84.00 | +9.00 |"), std::string::npos) << markdown;
}

TEST(RunComparison, SeedsGiveMeanAndSpreadAndPairedDifferences) {
  const auto c = report::compare({{"a", {run_a(0), run_a(2)}}, {"b", {run_b(), run_b()}}}, {0.5});
  EXPECT_DOUBLE_EQ(c.rows[0].accuracy[0].mean, 71);
  EXPECT_NEAR(c.rows[0].accuracy[0].std, std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(c.rows[0].differences[0].mean, -3, 1e-12);  // (68 − 70 + 68 − 72) / 2
  EXPECT_NEAR(c.rows[0].differences[0].std, std::sqrt(2.0), 1e-12);
  EXPECT_NE(report::comparison_table(c).find("71.00 ± 1.41"), std::string::npos);
  // Unequal run counts cannot be paired.
  EXPECT_THROW(report::compare({{"a", {run_a(), run_a()}}, {"b", {run_b()}}}, {0.5}), std::invalid_argument);
}

TEST(RunComparison, MeanCurveHasABandOverSeeds) {
  const auto curve = report::mean_curve({"a", {run_a(0), run_a(2)}});
  ASSERT_FALSE(curve.band.empty());
  EXPECT_EQ(curve.band.size(), curve.dynamic.size());
  EXPECT_DOUBLE_EQ(curve.dynamic.front().first, 1e6);
  EXPECT_DOUBLE_EQ(curve.dynamic.front().second, 51);
  EXPECT_NEAR(curve.band.front()[2] - curve.band.front()[1], 2 * std::sqrt(2.0), 1e-12);
  EXPECT_TRUE(report::mean_curve({"b", {run_b()}}).band.empty());
}

}  // namespace
}  // namespace l2w
