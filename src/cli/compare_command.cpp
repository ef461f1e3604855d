#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "commands.h"
#include "l2w/report/run_comparison.h"
#include "l2w/runtime/atomic_file.h"

namespace l2w::cli {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, separator))
    if (!part.empty()) out.push_back(part);
  return out;
}

// The budgets as shares of the full network's cost (0.25,0.5,1).
std::vector<double> budget_shares(const std::string& text) {
  try {
    return options::parse_number_list("--budgets", text, options::Check::kPositive);
  } catch (const options::OptionError& e) {
    throw FlagError(e.what());
  }
}

// A method's name: --labels, else its first run folder's name without a trailing _seedN, and the exit
// policy eval recorded there (runs evaluated with different criteria compare side by side).
std::string method_label(const std::vector<std::string>& labels, size_t i, const report::RunCurve& first_run) {
  if (i < labels.size()) return labels[i];
  const auto name = std::regex_replace(first_run.label, std::regex("_seed[0-9]+$"), "");
  return first_run.exit_policy ? name + " (" + io::describe(*first_run.exit_policy) + ")" : name;
}

}  // namespace

int compare_command(const Flags& flags) {
  const auto labels = split(flags.compare_labels, ',');
  std::vector<report::MethodRuns> methods;
  for (size_t i = 0; i < flags.compare_methods.size(); ++i) {
    const auto runs = split(flags.compare_methods[i], ',');
    if (runs.empty()) throw FlagError("compare: an empty list of runs");
    report::MethodRuns method;
    for (const auto& run : runs) method.runs.push_back(report::read_run_curve(run));
    method.label = method_label(labels, i, method.runs.front());
    methods.push_back(std::move(method));
  }
  const auto comparison = report::compare(methods, budget_shares(flags.compare_budgets));
  std::cout << report::comparison_table(comparison, flags.compare_exits);
  if (!flags.compare_markdown.empty()) {
    runtime::write_file_atomically(flags.compare_markdown, report::comparison_markdown(comparison));
    std::cout << "Markdown: " << flags.compare_markdown << std::endl;
  }
  std::vector<report::RunCurve> curves;
  for (const auto& m : methods) curves.push_back(report::mean_curve(m));
  const auto first_run = split(flags.compare_methods.front(), ',').front();
  const auto output = flags.plot_output.empty()
                          ? (std::filesystem::path(first_run).parent_path() / "comparison").string()
                          : flags.plot_output;
  try {
    report::plot_accuracy_budget(curves, output, flags.plot_title);
    std::cout << "Plot: " << output << ".png, " << output << ".svg" << std::endl;
  } catch (const std::runtime_error& e) {
    std::cerr << "l2w: warning: " << e.what() << std::endl;
  }
  return 0;
}

}  // namespace l2w::cli
