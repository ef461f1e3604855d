// The accuracy–budget figure: each run's dynamic curve (dynamic.txt) and its exits' anytime points
// (anytime.csv), accuracy against MUL-ADDs per image, drawn by gnuplot as PNG and SVG.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "l2w/eval/dynamic.h"
#include "l2w/io/exit_policy_file.h"

namespace l2w::report {

struct RunCurve {
  std::string label;                                 // legend entry
  std::vector<std::pair<double, double>> dynamic;    // (MUL-ADDs, top-1 %) per budget
  std::vector<std::pair<double, double>> exits;      // (MUL-ADDs, top-1 %) per exit
  std::string points_name = "exits";                 // legend entry of `exits`
  std::vector<std::array<double, 3>> band;           // (MUL-ADDs, low, high): a shaded spread, if any
  std::optional<io::ExitPolicy> exit_policy;         // how dynamic evaluation decided exits, when recorded
};

// What the x axis shows: its label and the divisor from the curves' units to the axis's.
struct PlotAxis {
  std::string label = "MUL-ADDs per image (millions)";
  double divisor = 1e6;
};

// A run's name in legends: its folder's name.
std::string run_label(const std::string& run_dir);

// The curve of results in memory: anytime metrics with their exit costs, and the dynamic sweep.
RunCurve make_run_curve(const std::string& label, const std::vector<eval::ExitMetrics>& exits,
                        const std::vector<nn::Cost>& costs, const std::vector<eval::DynamicPoint>& dynamic);

// Reads RUN_DIR/dynamic.txt and RUN_DIR/anytime.csv (either may be missing, not both); the label is the
// folder's name. Throws std::runtime_error naming the file when one is malformed.
RunCurve read_run_curve(const std::string& run_dir);

// Writes OUTPUT.png and OUTPUT.svg, keeping OUTPUT.dat and OUTPUT.gp (data and script, to restyle the
// figure by hand). Throws std::runtime_error when gnuplot is missing or fails.
void plot_accuracy_budget(const std::vector<RunCurve>& runs, const std::string& output, const std::string& title,
                          const PlotAxis& axis = {});

}  // namespace l2w::report
