#include "l2w/report/accuracy_budget_plot.h"
#include "l2w/runtime/atomic_file.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sys/wait.h>

#include "l2w/io/run_folder.h"

namespace l2w::report {
namespace {

// gnuplot takes strings in single quotes, where a quote is written twice.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::string run_label(const std::string& run_dir) {
  auto path = std::filesystem::absolute(run_dir).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  return path.filename().string();
}

RunCurve make_run_curve(const std::string& label, const std::vector<eval::ExitMetrics>& exits,
                        const std::vector<nn::Cost>& costs, const std::vector<eval::DynamicPoint>& dynamic) {
  RunCurve curve;
  curve.label = label;
  for (size_t k = 0; k < exits.size() && k < costs.size(); ++k)
    curve.exits.emplace_back(double(costs[k].muladds), exits[k].top1);
  for (const auto& p : dynamic) curve.dynamic.emplace_back(p.test.expected_muladds, p.test.accuracy);
  return curve;
}

RunCurve read_run_curve(const std::string& run_dir) {
  namespace fs = std::filesystem;
  RunCurve curve;
  curve.label = run_label(run_dir);
  const io::RunFolder folder(run_dir);
  curve.exit_policy = io::read_exit_policy(folder.exit_policy());
  const auto dynamic_path = folder.dynamic();
  const auto anytime_path = folder.anytime();
  if (std::ifstream in{dynamic_path}) {
    std::string line;
    for (int line_no = 1; std::getline(in, line); ++line_no) {
      std::istringstream fields(line);
      double accuracy = 0, muladds = 0;
      if (!(fields >> accuracy >> muladds))
        throw std::runtime_error(dynamic_path + ":" + std::to_string(line_no) + ": expected 'accuracy muladds'");
      curve.dynamic.emplace_back(muladds, accuracy);
    }
  }
  if (std::ifstream in{anytime_path}) {
    std::string line;
    std::getline(in, line);  // header
    for (int line_no = 2; std::getline(in, line); ++line_no) {
      std::istringstream fields(line);
      std::string cell;
      std::vector<double> cells;
      while (std::getline(fields, cell, ',')) cells.push_back(std::strtod(cell.c_str(), nullptr));
      if (cells.size() < 5)
        throw std::runtime_error(anytime_path + ":" + std::to_string(line_no) + ": expected exit,top1,top5,loss,muladds");
      curve.exits.emplace_back(cells[4], cells[1]);
    }
  }
  if (curve.dynamic.empty() && curve.exits.empty())
    throw std::runtime_error(run_dir + ": no dynamic.txt or anytime.csv to plot (evaluate the run first)");
  return curve;
}

namespace {

// One gnuplot data block per series, separated by two blank lines: run r's curve is index 3r, its exits
// 3r+1, its band 3r+2.
void write_plot_data(const std::vector<RunCurve>& runs, const std::string& path, const PlotAxis& axis) {
  std::ostringstream data;
  data.precision(10);
  for (const auto& run : runs) {
    // A curve is drawn left to right: measured times need not follow the budgets' order.
    auto dynamic = run.dynamic;
    std::sort(dynamic.begin(), dynamic.end());
    data << "# " << run.label << ": dynamic (" << axis.label << ", top-1 %)\n";
    for (const auto& [x, a] : dynamic) data << x / axis.divisor << ' ' << a << '\n';
    // gnuplot counts only blocks with a record: an empty series keeps its index with an undefined point.
    if (dynamic.empty()) data << "NaN NaN\n";
    data << "\n\n# " << run.label << ": " << run.points_name << "\n";
    for (const auto& [x, a] : run.exits) data << x / axis.divisor << ' ' << a << '\n';
    if (run.exits.empty()) data << "NaN NaN\n";
    data << "\n\n# " << run.label << ": band (low, high)\n";
    for (const auto& [x, low, high] : run.band) data << x / axis.divisor << ' ' << low << ' ' << high << '\n';
    if (run.band.empty()) data << "NaN NaN NaN\n";
    data << "\n\n";
  }
  runtime::write_file_atomically(path, data.str());
}

// The `plot` command: each run's curve as lines and its exits as squares, one colour per run.
std::string plot_command(const std::vector<RunCurve>& runs) {
  std::string plot = "plot ";
  for (size_t r = 0; r < runs.size(); ++r) {
    const std::string color = std::to_string(r + 1);
    if (r) plot += ", \\\n     ";
    if (!runs[r].band.empty())
      plot += "data index " + std::to_string(3 * r + 2) + " using 1:2:3 with filledcurves lc " + color +
              " fs transparent solid 0.2 noborder notitle, \\\n     ";
    if (!runs[r].dynamic.empty())
      plot += "data index " + std::to_string(3 * r) + " with linespoints lc " + color + " pt 7 ps 0.5 lw 2 title " +
              quoted(runs[r].label + " (dynamic)");
    if (!runs[r].dynamic.empty() && !runs[r].exits.empty()) plot += ", \\\n     ";
    if (!runs[r].exits.empty())
      plot += "data index " + std::to_string(3 * r + 1) + " with points lc " + color + " pt 5 ps 1.3 title " +
              quoted(runs[r].label + " (" + runs[r].points_name + ")");
  }
  return plot;
}

void write_plot_script(const std::vector<RunCurve>& runs, const std::string& output, const std::string& title,
                       const PlotAxis& axis) {
  const std::string script_path = output + ".gp";
  std::ostringstream script;
  script << "# Accuracy against " << axis.label << "; regenerate with: gnuplot " << quoted(script_path) << "\n"
         << "data = " << quoted(output + ".dat") << "\n"
         << "set title " << quoted(title) << "\n"
         << "set xlabel " << quoted(axis.label) << "\n"
         << "set ylabel 'top-1 accuracy (%)'\n"
         << "set grid\nset key bottom right\n"
         << "set terminal pngcairo size 900,600 noenhanced font 'sans,11'\n"
         << "set output " << quoted(output + ".png") << "\n"
         << plot_command(runs) << "\n"
         << "set terminal svg size 900,600 noenhanced font 'sans,11'\n"
         << "set output " << quoted(output + ".svg") << "\n"
         << "replot\nunset output\n";
  runtime::write_file_atomically(script_path, script.str());
}

void run_gnuplot(const std::string& script_path) {
  const std::string command = "gnuplot " + shell_quoted(script_path) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("plot: cannot start gnuplot");
  std::string messages;
  char buffer[256];
  while (fgets(buffer, sizeof buffer, pipe)) messages += buffer;
  const int status = pclose(pipe);
  if (status == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    throw std::runtime_error("plot: gnuplot is not installed (Debian: gnuplot-nox); data and script are in " +
                             script_path);
  throw std::runtime_error("plot: gnuplot failed on " + script_path + ": " + messages);
}

}  // namespace

void plot_accuracy_budget(const std::vector<RunCurve>& runs, const std::string& output, const std::string& title,
                          const PlotAxis& axis) {
  if (runs.empty()) throw std::invalid_argument("plot: no runs");
  write_plot_data(runs, output + ".dat", axis);
  write_plot_script(runs, output, title, axis);
  run_gnuplot(output + ".gp");
}

}  // namespace l2w::report
