// A network deployed in a lower precision against the same network in float32 (`l2w eval --precision
// bf16`; docs/inference.md, "Precision"): per exit, the test accuracy and how often both choose the same
// class; per budget, the budgeted accuracy and cost, each precision with the thresholds fitted on its own
// validation outputs, and how often a test image leaves at the same exit.
#pragma once

#include <string>
#include <vector>

#include "l2w/eval/anytime.h"
#include "l2w/eval/dynamic.h"

namespace l2w::eval {

struct ExitAgreement {
  double reference_top1 = 0, top1 = 0;  // percent
  double same_class = 0;                // percent of test images
};

struct BudgetAgreement {
  int64_t p_index = 0;
  DynamicResult reference, result;
  double same_exit = 0;  // percent of test images
};

struct PrecisionComparison {
  std::string reference_name, name;  // "fp32", "bf16"
  std::vector<ExitAgreement> exits;
  std::vector<BudgetAgreement> budgets;  // empty without validation outputs
  double largest_budget_difference() const;  // points, the largest |accuracy − reference accuracy|
  double least_same_exit() const;            // percent, over the budgets
};

// `valid` and `reference_valid` may be empty (no budgets compared).
PrecisionComparison compare_precisions(const ExitOutputs& reference_test, const ExitOutputs& test,
                                       const ExitConfidences& reference_valid, const ExitConfidences& valid,
                                       criterion::ExitCriterion criterion, const std::vector<nn::Cost>& costs);

// A few lines for the console: the per-exit table and the budgets' summary.
std::string comparison_summary(const PrecisionComparison& c);
// Every budget, one per line, for the run folder.
std::string budget_comparison_table(const PrecisionComparison& c);

}  // namespace l2w::eval
