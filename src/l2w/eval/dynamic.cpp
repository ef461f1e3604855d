#include "l2w/eval/dynamic.h"
#include "l2w/runtime/option_list.h"
#include "l2w/runtime/atomic_file.h"

#include <cmath>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "l2w/criterion/exit_allocation.h"

namespace l2w::eval {

ExitConfidences exit_confidences(const ExitOutputs& outputs, criterion::ExitCriterion by) {
  std::vector<torch::Tensor> conf, correct;
  criterion::ExitScorer scorer(by);
  for (const auto& logits : outputs.logits) {
    const auto [score, prediction] = scorer.next(torch::softmax(logits.to(torch::kFloat32), 1));
    conf.push_back(score);
    correct.push_back(prediction.eq(outputs.labels));
  }
  return {torch::stack(conf).contiguous(), torch::stack(correct).contiguous(), by};
}

std::vector<float> find_thresholds(const torch::Tensor& confidence, const std::vector<float>& q) {
  const int64_t exits = confidence.size(0);
  const int64_t n = confidence.size(1);
  const auto conf = confidence.to(torch::kFloat32).contiguous();
  const float* c = conf.data_ptr<float>();
  std::vector<float> thresholds(exits, std::numeric_limits<float>::infinity());
  thresholds[exits - 1] = -std::numeric_limits<float>::infinity();
  std::vector<bool> assigned(n, false);
  std::vector<int64_t> order(n);
  for (int64_t k = 0; k + 1 < exits; ++k) {
    const float* ck = c + k * n;
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ck[a] > ck[b]; });
    const int64_t wanted = criterion::quota(n, q[k]);
    int64_t count = 0;
    for (int64_t i : order) {
      if (assigned[i]) continue;
      if (++count == wanted) {
        thresholds[k] = ck[i];
        break;
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      if (ck[i] >= thresholds[k]) assigned[i] = true;
    }
  }
  return thresholds;
}

std::vector<int64_t> exit_of_each_sample(const ExitConfidences& confidences, const std::vector<float>& thresholds) {
  const int64_t exits = confidences.confidence.size(0);
  const int64_t n = confidences.confidence.size(1);
  if (static_cast<int64_t>(thresholds.size()) != exits)
    throw std::invalid_argument("dynamic evaluation: exits and thresholds disagree in number");
  const auto conf = confidences.confidence.to(torch::kFloat32).contiguous();
  const float* c = conf.data_ptr<float>();
  std::vector<int64_t> exit_of(n, exits - 1);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k + 1 < exits; ++k) {
      if (c[k * n + i] >= thresholds[k]) {
        exit_of[i] = k;
        break;
      }
    }
  }
  return exit_of;
}

DynamicResult evaluate_with_thresholds(const ExitConfidences& test, const std::vector<float>& thresholds,
                                       const std::vector<nn::Cost>& costs) {
  const int64_t exits = test.confidence.size(0);
  const int64_t n = test.confidence.size(1);
  if (static_cast<int64_t>(costs.size()) != exits)
    throw std::invalid_argument("dynamic evaluation: exits and costs disagree in number");
  const auto right = test.correct.to(torch::kBool).contiguous();
  const bool* r = right.data_ptr<bool>();
  DynamicResult result;
  result.exit_counts.assign(exits, 0);
  int64_t correct = 0;
  const auto exit_of = exit_of_each_sample(test, thresholds);
  for (int64_t i = 0; i < n; ++i) {
    correct += r[exit_of[i] * n + i];
    ++result.exit_counts[exit_of[i]];
  }
  result.accuracy = 100.0 * double(correct) / double(n);
  for (int64_t k = 0; k < exits; ++k)
    result.expected_muladds += double(result.exit_counts[k]) / double(n) * double(costs[k].muladds);
  return result;
}

std::vector<std::vector<float>> budget_thresholds(const torch::Tensor& valid_confidence) {
  const int64_t exits = valid_confidence.size(0);
  std::vector<std::vector<float>> out;
  for (int64_t p = 1; p <= kNumBudgets; ++p)
    out.push_back(find_thresholds(valid_confidence, criterion::target_proportions(p, exits)));
  return out;
}

std::vector<std::vector<float>> candidate_thresholds(const ExitConfidences& valid) {
  if (valid.criterion != criterion::ExitCriterion::kPatience) return budget_thresholds(valid.confidence);
  const int64_t exits = valid.confidence.size(0);
  std::vector<std::vector<float>> out;
  for (int64_t t = 0; t < exits; ++t) out.push_back(criterion::patience_thresholds(exits, t));
  return out;
}

int64_t candidate_index(criterion::ExitCriterion criterion, size_t i) {
  return criterion == criterion::ExitCriterion::kPatience ? int64_t(i) : int64_t(i) + 1;
}

std::vector<DynamicPoint> dynamic_sweep(const ExitConfidences& valid, const ExitConfidences& test,
                                        const std::vector<nn::Cost>& costs) {
  std::vector<DynamicPoint> points;
  const auto thresholds = candidate_thresholds(valid);
  for (size_t i = 0; i < thresholds.size(); ++i)
    points.push_back({candidate_index(valid.criterion, i), thresholds[i], evaluate_with_thresholds(test, thresholds[i], costs)});
  return points;
}

std::vector<float> no_early_exit(int64_t exits) {
  std::vector<float> thresholds(static_cast<size_t>(exits), std::numeric_limits<float>::infinity());
  thresholds.back() = -std::numeric_limits<float>::infinity();
  return thresholds;
}

io::ExitThresholds thresholds_record(const ExitConfidences& valid, std::vector<float> thresholds, int64_t index,
                                     const DynamicResult& on_valid, const std::vector<nn::Cost>& costs) {
  io::ExitThresholds t;
  t.criterion = valid.criterion;
  t.thresholds = std::move(thresholds);
  for (const auto& cost : costs) t.exit_muladds.push_back(cost.muladds);
  t.p_index = index;
  t.valid_accuracy = on_valid.accuracy;
  t.valid_expected_muladds = t.budget_muladds = on_valid.expected_muladds;
  return t;
}

io::ExitThresholds thresholds_for_budget(const ExitConfidences& valid, const std::vector<nn::Cost>& costs,
                                     double budget_muladds) {
  if (!std::isfinite(budget_muladds))
    throw options::OptionError("budget_muladds", std::to_string(budget_muladds) + " is not a finite number");
  std::optional<io::ExitThresholds> best;
  double cheapest = std::numeric_limits<double>::infinity();
  const auto candidates = candidate_thresholds(valid);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto& thresholds = candidates[i];
    const auto result = evaluate_with_thresholds(valid, thresholds, costs);
    cheapest = std::min(cheapest, result.expected_muladds);
    if (result.expected_muladds > budget_muladds) continue;
    if (best && result.expected_muladds <= best->valid_expected_muladds) continue;
    best = thresholds_record(valid, thresholds, candidate_index(valid.criterion, i), result, costs);
    best->budget_muladds = budget_muladds;
  }
  if (!best) {
    char why[200];
    std::snprintf(why, sizeof why, "%.0f is below the cheapest reachable cost, %.0f MUL-ADDs", budget_muladds, cheapest);
    throw options::OptionError("budget_muladds", why);
  }
  return *best;
}

std::string exit_histogram(const std::vector<int64_t>& counts) {
  std::string out;
  for (size_t k = 0; k < counts.size(); ++k) out.append(k ? "/" : "").append(std::to_string(counts[k]));
  return out;
}

std::string dynamic_table(const std::vector<DynamicPoint>& points) {
  std::string out = "p_idx   accuracy %   MUL-ADDs (M)   exits taken\n";
  char line[256];
  for (const auto& p : points) {
    std::snprintf(line, sizeof line, "%5lld   %10.2f   %12.3f   ", static_cast<long long>(p.p_index), p.test.accuracy,
                  p.test.expected_muladds / 1e6);
    out += line + exit_histogram(p.test.exit_counts) + "\n";
  }
  return out;
}

void write_dynamic(const std::string& path, const std::vector<DynamicPoint>& points) {
  std::ostringstream out;
  out.precision(17);  // exact doubles
  for (const auto& p : points) out << p.test.accuracy << ' ' << p.test.expected_muladds << '\n';
  runtime::write_file_atomically(path, out.str());
}

}  // namespace l2w::eval
