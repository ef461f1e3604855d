// Budgeted batch classification (docs/algorithm.md, "Dynamic evaluation"): thresholds from a validation set for each of the 39 target
// exit distributions, then test accuracy and expected MUL-ADDs when every sample leaves at the first
// exit whose confidence reaches its threshold.
#pragma once

#include <string>
#include <vector>

#include "l2w/eval/anytime.h"
#include "l2w/io/thresholds_file.h"

namespace l2w::eval {

// Per exit, each sample's score by the exit criterion (max-prob: its largest softmax probability) and
// whether its arg-max is right, in float32 as the reference computes them (thresholds are compared in
// that precision).
struct ExitConfidences {
  torch::Tensor confidence;  // float32 [K, N]
  torch::Tensor correct;     // bool [K, N]
  criterion::ExitCriterion criterion = criterion::ExitCriterion::kMaxProb;  // what `confidence` holds
};
ExitConfidences exit_confidences(const ExitOutputs& outputs,
                                 criterion::ExitCriterion by = criterion::ExitCriterion::kMaxProb);

// Thresholds for exits 1..K-1 from validation confidences and target proportions q (T_K = −∞). An exit
// whose quota is never reached gets +∞.
std::vector<float> find_thresholds(const torch::Tensor& confidence, const std::vector<float>& q);

// Each sample's exit (0-based): the first k whose confidence reaches thresholds[k], else the last.
std::vector<int64_t> exit_of_each_sample(const ExitConfidences& confidences, const std::vector<float>& thresholds);

struct DynamicResult {
  double accuracy = 0;          // percent
  double expected_muladds = 0;  // Σ_k (n_k / n) · flops[k]
  std::vector<int64_t> exit_counts;
};
DynamicResult evaluate_with_thresholds(const ExitConfidences& test, const std::vector<float>& thresholds,
                                       const std::vector<nn::Cost>& costs);

struct DynamicPoint {
  int64_t p_index = 0;
  std::vector<float> thresholds;
  DynamicResult test;
};
// Budgeted evaluation's budgets: p_index = 1..39, the target exit distributions q_k ∝ (p_index/20)^k.
constexpr int64_t kNumBudgets = 39;
// For each budget (element p_index − 1), the thresholds found on the validation confidences.
std::vector<std::vector<float>> budget_thresholds(const torch::Tensor& valid_confidence);
// The criterion's candidate thresholds on `valid`: budget_thresholds for a score, the patiences
// 0..K-1 for patience.
std::vector<std::vector<float>> candidate_thresholds(const ExitConfidences& valid);
// The index candidate i is known by: its p_index (i + 1), or for patience the patience (i).
int64_t candidate_index(criterion::ExitCriterion criterion, size_t i);

// The 39 points p_index = 1..39.
std::vector<DynamicPoint> dynamic_sweep(const ExitConfidences& valid, const ExitConfidences& test,
                                        const std::vector<nn::Cost>& costs);

// Thresholds with no early exit: +∞ at every exit but the last, whose −∞ takes every sample.
std::vector<float> no_early_exit(int64_t exits);

// The thresholds file's record of a candidate (index as candidate_index gives it) and its result on
// the validation samples; budget_muladds is set to the validation cost.
io::ExitThresholds thresholds_record(const ExitConfidences& valid, std::vector<float> thresholds, int64_t index,
                                     const DynamicResult& on_valid, const std::vector<nn::Cost>& costs);

// Deployment's choice: of the candidates (the 39 target distributions, or the patiences), the thresholds
// (found on `valid`) whose expected MUL-ADDs on `valid` are the largest not above `budget_muladds`. Throws std::invalid_argument naming the
// cheapest reachable cost when even that exceeds the budget.
io::ExitThresholds thresholds_for_budget(const ExitConfidences& valid, const std::vector<nn::Cost>& costs,
                                     double budget_muladds);

// "n1/n2/…/nK": how many samples left at each exit.
std::string exit_histogram(const std::vector<int64_t>& counts);

std::string dynamic_table(const std::vector<DynamicPoint>& points);
// The reference's dynamic.txt: "accuracy expected_muladds" per line.
void write_dynamic(const std::string& path, const std::vector<DynamicPoint>& points);

}  // namespace l2w::eval
