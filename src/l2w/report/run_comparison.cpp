#include "l2w/report/run_comparison.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace l2w::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// "81.23" or "81.23 ± 0.40"; "n/a" for NaN; differences carry their sign.
std::string format(const Summary& s, bool signed_value) {
  if (std::isnan(s.mean)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, signed_value ? "%+.2f" : "%.2f", s.mean);
  std::string out = buf;
  if (s.runs > 1) {
    std::snprintf(buf, sizeof buf, " ± %.2f", s.std);
    out += buf;
  }
  return out;
}

std::string budget_name(const ComparisonRow& row) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f%% (%.3f M)", 100.0 * row.fraction, row.muladds / 1e6);
  return buf;
}

std::vector<std::string> difference_labels(const Comparison& c) {
  std::vector<std::string> out;
  for (size_t m = 1; m < c.labels.size(); ++m) out.push_back(c.labels[m] + " − " + c.labels[0]);
  return out;
}

// One row of cells per line, each column as wide as its widest cell.
std::string aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      // Display width: "±" and "−" are one column but several bytes.
      size_t w = 0;
      for (unsigned char ch : row[i]) w += (ch & 0xC0) != 0x80;
      if (width.size() <= i) width.resize(i + 1, 0);
      width[i] = std::max(width[i], w);
    }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      size_t w = 0;
      for (unsigned char ch : row[i]) w += (ch & 0xC0) != 0x80;
      out += row[i] + (i + 1 < row.size() ? std::string(width[i] - w + 3, ' ') : "");
    }
    out += '\n';
  }
  return out;
}

// Why some budgets read "n/a", naming each method's cheapest reachable budget; empty when none does.
std::string unreachable_note(const Comparison& c) {
  bool any = false;
  for (const auto& row : c.rows)
    for (const auto& s : row.accuracy) any = any || std::isnan(s.mean);
  if (!any) return "";
  std::string note = "n/a: the budget is below the cheapest point of the method's curve:";
  for (size_t m = 0; m < c.labels.size(); ++m) {
    char cost[64];
    std::snprintf(cost, sizeof cost, " %.3f M (%.0f%%)", c.reachable_from[m] / 1e6,
                  100.0 * c.reachable_from[m] / c.full_muladds);
    note.append(m == 0 ? " " : ", ").append(c.labels[m]).append(cost);
  }
  char first[96];
  std::snprintf(first, sizeof first, "; the first exit alone costs %.3f M (%.0f%%)", c.exit_muladds.front() / 1e6,
                100.0 * c.exit_muladds.front() / c.full_muladds);
  return note.append(first).append("\n");
}

}  // namespace

double accuracy_at(std::vector<std::pair<double, double>> dynamic, double muladds) {
  if (dynamic.empty()) return kNaN;
  std::sort(dynamic.begin(), dynamic.end());
  if (muladds < dynamic.front().first) return kNaN;
  if (muladds >= dynamic.back().first) return dynamic.back().second;
  const auto above = std::upper_bound(dynamic.begin(), dynamic.end(), std::make_pair(muladds, kNaN),
                                      [](const auto& a, const auto& b) { return a.first < b.first; });
  const auto below = above - 1;
  const double t = (muladds - below->first) / (above->first - below->first);
  return below->second + t * (above->second - below->second);
}

Summary summarize(const std::vector<double>& values) {
  Summary s;
  s.runs = static_cast<int64_t>(values.size());
  if (values.empty()) return {kNaN, kNaN, 0};
  for (double v : values) s.mean += v;
  s.mean /= double(values.size());
  if (values.size() > 1) {
    double sq = 0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(sq / double(values.size() - 1));
  }
  return s;
}

Comparison compare(const std::vector<MethodRuns>& methods, const std::vector<double>& fractions) {
  if (methods.empty() || methods.front().runs.empty() || methods.front().runs.front().exits.empty())
    throw std::invalid_argument("compare: the first run has no anytime results (anytime.csv)");
  for (const auto& m : methods)
    if (m.runs.size() != methods.front().runs.size())
      throw std::invalid_argument("compare: " + m.label + " has " + std::to_string(m.runs.size()) + " runs, " +
                                  methods.front().label + " " + std::to_string(methods.front().runs.size()) +
                                  " (differences pair runs seed by seed)");
  Comparison c;
  for (const auto& m : methods) {
    c.labels.push_back(m.label);
    double cheapest = 0;
    for (const auto& run : m.runs)
      if (!run.dynamic.empty())
        cheapest = std::max(cheapest, std::min_element(run.dynamic.begin(), run.dynamic.end())->first);
    c.reachable_from.push_back(cheapest);
  }
  c.full_muladds = methods.front().runs.front().exits.back().first;
  for (double f : fractions) {
    ComparisonRow row{f, f * c.full_muladds, {}, {}};
    std::vector<std::vector<double>> per_method;
    for (const auto& m : methods) {
      per_method.emplace_back();
      for (const auto& run : m.runs) per_method.back().push_back(accuracy_at(run.dynamic, row.muladds));
      row.accuracy.push_back(summarize(per_method.back()));
    }
    for (size_t i = 1; i < methods.size(); ++i) {
      std::vector<double> d;
      for (size_t r = 0; r < per_method[i].size(); ++r) d.push_back(per_method[i][r] - per_method[0][r]);
      row.differences.push_back(summarize(d));
    }
    c.rows.push_back(row);
  }
  const auto& first = methods.front().runs.front().exits;
  for (size_t k = 0; k < first.size(); ++k) {
    c.exit_muladds.push_back(first[k].first);
    c.exit_accuracy.emplace_back();
    for (const auto& m : methods) {
      std::vector<double> top1;
      for (const auto& run : m.runs) top1.push_back(k < run.exits.size() ? run.exits[k].second : kNaN);
      c.exit_accuracy.back().push_back(summarize(top1));
    }
  }
  return c;
}

std::string comparison_table(const Comparison& c, bool with_exits) {
  std::vector<std::vector<std::string>> exits{{"exit", "MUL-ADDs (M)"}};
  for (const auto& label : c.labels) exits.front().push_back(label + " top-1 %");
  for (size_t k = 0; k < c.exit_muladds.size(); ++k) {
    char cost[32];
    std::snprintf(cost, sizeof cost, "%.3f", c.exit_muladds[k] / 1e6);
    exits.push_back({std::to_string(k + 1), cost});
    for (const auto& s : c.exit_accuracy[k]) exits.back().push_back(format(s, false));
  }
  std::vector<std::vector<std::string>> budgets{{"budget"}};
  for (const auto& label : c.labels) budgets.front().push_back(label + " %");
  for (const auto& label : difference_labels(c)) budgets.front().push_back(label);
  for (const auto& row : c.rows) {
    budgets.push_back({budget_name(row)});
    for (const auto& s : row.accuracy) budgets.back().push_back(format(s, false));
    for (const auto& s : row.differences) budgets.back().push_back(format(s, true));
  }
  std::string out;
  if (with_exits) out.append("Anytime: each exit's test top-1\n").append(aligned(exits)).append("\n");
  return out.append("Budgeted: test top-1 within a budget (share of the full network's MUL-ADDs), on the dynamic ")
      .append("curves\n")
      .append(aligned(budgets))
      .append(unreachable_note(c));
}

std::string comparison_markdown(const Comparison& c) {
  // append() rather than operator+: GCC 12 warns falsely (-Wstringop-overflow) on the temporaries.
  const auto cell = [](std::string& out, const std::string& text) { out.append(" ").append(text).append(" |"); };
  std::string out = "| budget |";
  for (const auto& label : c.labels) cell(out, label + " top-1 %");
  for (const auto& label : difference_labels(c)) cell(out, label);
  out.append("\n|---|");
  for (size_t i = 0; i < 2 * c.labels.size() - 1; ++i) out.append("---|");
  out.append("\n");
  for (const auto& row : c.rows) {
    out.append("|");
    cell(out, budget_name(row));
    for (const auto& s : row.accuracy) cell(out, format(s, false));
    for (const auto& s : row.differences) cell(out, format(s, true));
    out.append("\n");
  }
  const auto note = unreachable_note(c);
  if (!note.empty()) out.append("\n").append(note);
  return out;
}

RunCurve mean_curve(const MethodRuns& method) {
  if (method.runs.size() == 1) {
    RunCurve curve = method.runs.front();
    curve.label = method.label;
    return curve;
  }
  RunCurve curve;
  curve.label = method.label;
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  for (const auto& run : method.runs) {
    if (run.dynamic.empty()) continue;
    const auto [min_it, max_it] = std::minmax_element(run.dynamic.begin(), run.dynamic.end());
    lo = std::max(lo, min_it->first);
    hi = std::min(hi, max_it->first);
  }
  constexpr int kGrid = 40;
  for (int i = 0; hi > lo && i <= kGrid; ++i) {
    const double x = lo + (hi - lo) * i / kGrid;
    std::vector<double> at;
    for (const auto& run : method.runs) at.push_back(accuracy_at(run.dynamic, x));
    const auto s = summarize(at);
    curve.dynamic.emplace_back(x, s.mean);
    curve.band.push_back({x, s.mean - s.std, s.mean + s.std});
  }
  for (size_t k = 0; k < method.runs.front().exits.size(); ++k) {
    std::vector<double> cost, top1;
    for (const auto& run : method.runs) {
      cost.push_back(run.exits.at(k).first);
      top1.push_back(run.exits.at(k).second);
    }
    curve.exits.emplace_back(summarize(cost).mean, summarize(top1).mean);
  }
  return curve;
}

}  // namespace l2w::report
