// The budgets a server can switch between (docs/serving.md): budgeted evaluation's candidate threshold sets
// (the 39 target exit distributions, or the patiences), fitted on validation images, cheapest first, and
// the full network without early exits last. A budget that costs as much as the full network is left
// out: running every block without the early heads is then cheaper and as accurate.
//
// Its file (`l2w serve` writes RUN/budgets.txt; --budgets reads one back):
//
//   l2w-budgets 1
//   criterion max-prob
//   exit_muladds 2560000 5420000 8370000
//   full_muladds 8100000
//   budget 1 valid_accuracy 84.5 valid_expected_muladds 2701223.5 thresholds 0.61 0.55 -inf
//   ...
//   budget 0 valid_accuracy 91.2 valid_expected_muladds 8100000 thresholds inf inf -inf
//
// `budget P`: P is the candidate's p_index (patience: the patience), 0 the full network.
#pragma once

#include <string>
#include <vector>

#include "l2w/eval/dynamic.h"
#include "l2w/io/thresholds_file.h"

namespace l2w::serve {

struct BudgetMenu {
  criterion::ExitCriterion criterion = criterion::ExitCriterion::kMaxProb;
  std::vector<int64_t> exit_muladds;  // cumulative, per exit, as the thresholds file has them
  int64_t full_muladds = 0;           // every block and the last exit's head only
  // Cheapest first; the last is the full network (p_index 0). Each entry's exit_muladds and criterion
  // are the menu's.
  std::vector<io::ExitThresholds> budgets;

  bool is_full(size_t b) const { return budgets[b].p_index == 0; }
  // The index of the most expensive budget whose validation cost is at most `muladds`; std::invalid_argument
  // naming the cheapest when none is.
  size_t at_most(double muladds) const;
};

// The menu from validation confidences (the criterion's) and the network's exit costs.
BudgetMenu fit_budget_menu(const eval::ExitConfidences& valid, const std::vector<nn::Cost>& costs,
                           int64_t full_muladds);

void write_budget_menu(const std::string& path, const BudgetMenu& menu);
// std::runtime_error naming the file (and line) for anything malformed or missing.
BudgetMenu read_budget_menu(const std::string& path);

}  // namespace l2w::serve
