#include "l2w/serve/budget_menu.h"
#include "l2w/runtime/option_list.h"
#include "l2w/runtime/atomic_file.h"

#include "l2w/io/key_value_file.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace l2w::serve {

size_t BudgetMenu::at_most(double muladds) const {
  for (size_t b = budgets.size(); b-- > 0;)
    if (budgets[b].valid_expected_muladds <= muladds) return b;
  char why[200];
  std::snprintf(why, sizeof why, "%.0f is below the cheapest budget, %.0f MUL-ADDs", muladds,
                budgets.front().valid_expected_muladds);
  throw options::OptionError("budget_muladds", why);
}

BudgetMenu fit_budget_menu(const eval::ExitConfidences& valid, const std::vector<nn::Cost>& costs,
                           int64_t full_muladds) {
  BudgetMenu menu;
  menu.criterion = valid.criterion;
  for (const auto& cost : costs) menu.exit_muladds.push_back(cost.muladds);
  menu.full_muladds = full_muladds;
  const auto candidates = eval::candidate_thresholds(valid);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const auto result = eval::evaluate_with_thresholds(valid, candidates[i], costs);
    if (result.expected_muladds >= static_cast<double>(full_muladds)) continue;
    menu.budgets.push_back(
        eval::thresholds_record(valid, candidates[i], eval::candidate_index(valid.criterion, i), result, costs));
  }
  std::stable_sort(menu.budgets.begin(), menu.budgets.end(), [](const auto& a, const auto& b) {
    return a.valid_expected_muladds < b.valid_expected_muladds;
  });
  // The full network: every sample at the last exit, at the cost of the blocks and the last head only.
  const auto none = eval::no_early_exit(static_cast<int64_t>(costs.size()));
  auto full = eval::thresholds_record(valid, none, 0, eval::evaluate_with_thresholds(valid, none, costs), costs);
  full.valid_expected_muladds = full.budget_muladds = static_cast<double>(full_muladds);
  menu.budgets.push_back(full);
  return menu;
}

void write_budget_menu(const std::string& path, const BudgetMenu& menu) {
  std::ostringstream out;
  out.precision(10);
  {
    out << "# l2w budget menu: the threshold sets a server switches between, cheapest first; budget 0 is the\n"
        << "# full network without early exits.\n"
        << "l2w-budgets 1\n"
        << "criterion " << criterion::exit_criterion_name(menu.criterion) << "\n"
        << "exit_muladds";
    for (const auto m : menu.exit_muladds) out << " " << m;
    out << "\nfull_muladds " << menu.full_muladds << "\n";
    for (const auto& b : menu.budgets) {
      out << "budget " << b.p_index << " valid_accuracy " << b.valid_accuracy << " valid_expected_muladds "
          << b.valid_expected_muladds << " thresholds";
      for (const auto t : b.thresholds) out << " " << io::threshold_text(t);
      out << "\n";
    }
  }
  runtime::write_file_atomically(path, out.str());
}

BudgetMenu read_budget_menu(const std::string& path) {
  io::KeyValueReader in(path, "budget menu file");
  BudgetMenu menu;
  bool versioned = false;
  while (in.next()) {
    const auto& key = in.key();
    auto& fields = in.fields();
    if (key == "l2w-budgets") {
      in.expect_version(1);
      versioned = true;
    } else if (key == "criterion") {
      menu.criterion = in.criterion();
    } else if (key == "exit_muladds") {
      for (int64_t m = 0; fields >> m;) menu.exit_muladds.push_back(m);
      if (menu.exit_muladds.empty() || !fields.eof()) throw in.error("expected exit_muladds M1 M2 ...");
    } else if (key == "full_muladds") {
      if (!(fields >> menu.full_muladds) || menu.full_muladds <= 0) throw in.error("bad number");
    } else if (key == "budget") {
      io::ExitThresholds b;
      std::string accuracy_key, cost_key, thresholds_key;
      if (!(fields >> b.p_index >> accuracy_key >> b.valid_accuracy >> cost_key >> b.valid_expected_muladds >>
            thresholds_key) ||
          accuracy_key != "valid_accuracy" || cost_key != "valid_expected_muladds" || thresholds_key != "thresholds")
        throw in.error("expected 'budget P valid_accuracy A valid_expected_muladds M thresholds T1 T2 ...'");
      for (std::string text; fields >> text;) {
        const auto t = io::parse_threshold(text);
        if (!t) throw in.error("bad threshold '" + text + "'");
        b.thresholds.push_back(*t);
      }
      if (b.thresholds.size() != menu.exit_muladds.size()) throw in.error("expected one threshold per exit (exit_muladds first)");
      if (!menu.budgets.empty() && b.valid_expected_muladds < menu.budgets.back().valid_expected_muladds)
        throw in.error("budgets out of order (cheapest first)");
      b.criterion = menu.criterion;
      b.exit_muladds = menu.exit_muladds;
      b.budget_muladds = b.valid_expected_muladds;
      menu.budgets.push_back(b);
    } else {
      throw in.error("unknown key");
    }
  }
  if (!versioned) throw std::runtime_error(path + ": not an l2w budget menu (no 'l2w-budgets 1' line)");
  if (menu.budgets.empty() || !menu.is_full(menu.budgets.size() - 1) || menu.full_muladds <= 0)
    throw std::runtime_error(path + ": expected budget lines ending with the full network's (budget 0) and full_muladds");
  return menu;
}

}  // namespace l2w::serve
