#include "l2w/eval/risk_control.h"
#include "l2w/runtime/option_list.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace l2w::eval {
namespace {

// log P(Binomial(n, p) <= k), summed in log space.
double log_binomial_cdf(int64_t k, int64_t n, double p) {
  if (p <= 0) return 0;
  if (p >= 1) return k >= n ? 0 : -std::numeric_limits<double>::infinity();
  const double log_p = std::log(p), log_q = std::log1p(-p);
  double top = -std::numeric_limits<double>::infinity();
  std::vector<double> terms;
  for (int64_t i = 0; i <= k; ++i) {
    const double t = std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + i * log_p + (n - i) * log_q;
    terms.push_back(t);
    top = std::max(top, t);
  }
  double sum = 0;
  for (const double t : terms) sum += std::exp(t - top);
  return top + std::log(sum);
}

}  // namespace

double binomial_upper_bound(int64_t failures, int64_t n, double confidence) {
  if (failures >= n) return 1;
  const double target = std::log1p(-confidence);  // the CDF decreases in p: find where it reaches 1 - confidence
  double lo = static_cast<double>(failures) / static_cast<double>(n), hi = 1;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (log_binomial_cdf(failures, n, mid) > target ? lo : hi) = mid;
  }
  return hi;
}

RiskControlledChoice risk_controlled_thresholds(const ExitConfidences& valid, const std::vector<nn::Cost>& costs,
                                                double max_drop, double confidence) {
  const int64_t exits = valid.confidence.size(0), n = valid.confidence.size(1);
  auto candidates = candidate_thresholds(valid);
  const auto none = no_early_exit(exits);
  struct Tested {
    std::vector<float> thresholds;
    int64_t index;
    DynamicResult result;
  };
  std::vector<Tested> sequence{{none, 0, evaluate_with_thresholds(valid, none, costs)}};
  for (size_t i = 0; i < candidates.size(); ++i)
    sequence.push_back({candidates[i], candidate_index(valid.criterion, i), evaluate_with_thresholds(valid, candidates[i], costs)});
  std::stable_sort(sequence.begin() + 1, sequence.end(),
                   [](const Tested& a, const Tested& b) { return a.result.expected_muladds > b.result.expected_muladds; });
  const auto last_correct = valid.correct[exits - 1];
  const double last_accuracy = last_correct.to(torch::kFloat64).mean().item<double>();
  std::optional<RiskControlledChoice> chosen;
  for (const auto& t : sequence) {
    const auto taken = torch::tensor(exit_of_each_sample(valid, t.thresholds));
    const auto correct_there = valid.correct.gather(0, taken.unsqueeze(0)).squeeze(0);
    const int64_t harmed = last_correct.logical_and(correct_there.logical_not()).sum().item<int64_t>();
    const double bound = binomial_upper_bound(harmed, n, confidence);
    if (bound > max_drop) break;
    RiskControlledChoice c;
    c.thresholds = thresholds_record(valid, t.thresholds, t.index, t.result, costs);
    c.harmed = harmed;
    c.bound = bound;
    c.valid_drop = last_accuracy - t.result.accuracy / 100.0;
    chosen = c;
  }
  if (!chosen) {
    char why[240];
    std::snprintf(why, sizeof why,
                  "%g: no threshold set qualifies; even without early exits the bound is %.4f "
                  "(%lld validation images are too few for this drop at risk_confidence %g)",
                  max_drop, binomial_upper_bound(0, n, confidence), static_cast<long long>(n), confidence);
    throw options::OptionError("max_accuracy_drop", why);
  }
  return *chosen;
}

}  // namespace l2w::eval
