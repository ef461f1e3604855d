// Comparing training methods on their accuracy-against-cost curves: accuracy at budgets given as
// fractions of the full network's MUL-ADDs, interpolated on each run's dynamic curve, as mean and
// standard deviation over a method's runs (seeds), and the differences to the first method.
#pragma once

#include <string>
#include <vector>

#include "l2w/report/accuracy_budget_plot.h"

namespace l2w::report {

// A method's runs (one per seed) and its name in tables and legends.
struct MethodRuns {
  std::string label;
  std::vector<RunCurve> runs;
};

// Accuracy of a dynamic curve, (MUL-ADDs, top-1 %) points, at `muladds`: linear between the neighbouring
// points by cost; above the costliest point that point's accuracy (a budget need not be spent); below the
// cheapest, NaN (unreachable).
double accuracy_at(std::vector<std::pair<double, double>> dynamic, double muladds);

struct Summary {
  double mean = 0;
  double std = 0;  // sample standard deviation; 0 for one run
  int64_t runs = 0;
};
// Mean and sample standard deviation; NaN values make the summary NaN.
Summary summarize(const std::vector<double>& values);

struct ComparisonRow {
  double fraction = 0;  // of the full network's MUL-ADDs
  double muladds = 0;
  std::vector<Summary> accuracy;     // per method
  std::vector<Summary> differences;  // method i − method 0, i ≥ 1, paired run by run
};

struct Comparison {
  std::vector<std::string> labels;
  double full_muladds = 0;  // the first method's first run's last exit
  std::vector<ComparisonRow> rows;
  // Per method: the cheapest budget (MUL-ADDs) every one of its runs' dynamic curves reaches; a budget
  // below it has no figure ("n/a"), and the tables say so.
  std::vector<double> reachable_from;
  // Per exit: cost and top-1 per method (anytime evaluation).
  std::vector<double> exit_muladds;
  std::vector<std::vector<Summary>> exit_accuracy;  // [exit][method]
};

// Every method needs the same number of runs when differences are paired; std::invalid_argument otherwise.
Comparison compare(const std::vector<MethodRuns>& methods, const std::vector<double>& fractions);
// Aligned text: accuracy per budget with the differences; with `exits`, each exit's top-1 first.
std::string comparison_table(const Comparison& comparison, bool exits = true);
// The budget table in Markdown.
std::string comparison_markdown(const Comparison& comparison);

// A method's mean curve: exits averaged, the dynamic curve averaged on a grid of costs, with a band of
// ±1 standard deviation when there are several runs.
RunCurve mean_curve(const MethodRuns& method);

}  // namespace l2w::report
