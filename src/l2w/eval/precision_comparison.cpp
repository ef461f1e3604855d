#include "l2w/eval/precision_comparison.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace l2w::eval {

double PrecisionComparison::largest_budget_difference() const {
  double largest = 0;
  for (const auto& b : budgets) largest = std::max(largest, std::abs(b.result.accuracy - b.reference.accuracy));
  return largest;
}

double PrecisionComparison::least_same_exit() const {
  double least = 100;
  for (const auto& b : budgets) least = std::min(least, b.same_exit);
  return least;
}

namespace {

double percent_equal(const torch::Tensor& a, const torch::Tensor& b) {
  return 100.0 * a.eq(b).to(torch::kFloat64).mean().item<double>();
}

double percent_equal(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return a.empty() ? 100.0 : 100.0 * double(same) / double(a.size());
}

}  // namespace

PrecisionComparison compare_precisions(const ExitOutputs& reference_test, const ExitOutputs& test,
                                       const ExitConfidences& reference_valid, const ExitConfidences& valid,
                                       criterion::ExitCriterion criterion, const std::vector<nn::Cost>& costs) {
  PrecisionComparison c;
  const auto reference_metrics = anytime_metrics(reference_test);
  const auto metrics = anytime_metrics(test);
  for (size_t k = 0; k < metrics.size(); ++k)
    c.exits.push_back({reference_metrics[k].top1, metrics[k].top1,
                       percent_equal(reference_test.logits[k].argmax(1), test.logits[k].argmax(1))});
  if (!valid.confidence.defined()) return c;
  const auto reference_on_test = exit_confidences(reference_test, criterion);
  const auto on_test = exit_confidences(test, criterion);
  const auto reference_points = dynamic_sweep(reference_valid, reference_on_test, costs);
  const auto points = dynamic_sweep(valid, on_test, costs);
  for (size_t i = 0; i < points.size(); ++i) {
    const double same = percent_equal(exit_of_each_sample(reference_on_test, reference_points[i].thresholds),
                                      exit_of_each_sample(on_test, points[i].thresholds));
    c.budgets.push_back({points[i].p_index, reference_points[i].test, points[i].test, same});
  }
  return c;
}

std::string comparison_summary(const PrecisionComparison& c) {
  std::string out;
  char line[160];
  const int width = std::max(10, static_cast<int>(c.name.size()) + 6);  // the name's column fits its header
  std::snprintf(line, sizeof line, "  %-5s %10s %*s %11s %11s\n", "exit", (c.reference_name + " top-1").c_str(), width,
                (c.name + " top-1").c_str(), "difference", "same class");
  out += line;
  for (size_t k = 0; k < c.exits.size(); ++k) {
    const auto& e = c.exits[k];
    std::snprintf(line, sizeof line, "  %-5zu %10.2f %*.2f %+11.2f %10.2f%%\n", k + 1, e.reference_top1, width, e.top1,
                  e.top1 - e.reference_top1, e.same_class);
    out += line;
  }
  if (!c.budgets.empty()) {
    std::snprintf(line, sizeof line,
                  "  budgeted (%zu budgets, each precision's own thresholds): largest accuracy difference %.2f points, "
                  "same exit for at least %.2f%% of test images\n",
                  c.budgets.size(), c.largest_budget_difference(), c.least_same_exit());
    out += line;
  }
  return out;
}

std::string budget_comparison_table(const PrecisionComparison& c) {
  std::string out = "p_idx\t" + c.reference_name + "_accuracy\t" + c.name + "_accuracy\tdifference\t" + c.reference_name +
                    "_muladds\t" + c.name + "_muladds\tsame_exit_percent\n";
  char line[200];
  for (const auto& b : c.budgets) {
    std::snprintf(line, sizeof line, "%lld\t%.2f\t%.2f\t%+.2f\t%.0f\t%.0f\t%.2f\n", static_cast<long long>(b.p_index),
                  b.reference.accuracy, b.result.accuracy, b.result.accuracy - b.reference.accuracy,
                  b.reference.expected_muladds, b.result.expected_muladds, b.same_exit);
    out += line;
  }
  return out;
}

}  // namespace l2w::eval
