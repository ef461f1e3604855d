#include <filesystem>
#include <memory>
#include <iostream>
#include <regex>
#include <sstream>

#include "commands.h"
#include "l2w/report/accuracy_budget_plot.h"
#include "l2w/report/run_comparison.h"
#include "l2w/runtime/atomic_file.h"
#include "option_flags.h"

namespace l2w::cli {
namespace {

struct CompareFlags {
  std::vector<std::string> methods;  // each RUN[,RUN...]: one method's runs
  std::string budgets = "0.25,0.5,0.75,1";
  std::string labels;
  std::string markdown;
  bool exits = false;
  std::string output;
  std::string title = "Budgeted batch classification";
};

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

int run_compare(const CompareFlags& flags) {
  const auto labels = split(flags.labels, ',');
  std::vector<report::MethodRuns> methods;
  for (size_t i = 0; i < flags.methods.size(); ++i) {
    const auto runs = split(flags.methods[i], ',');
    if (runs.empty()) throw FlagError("compare: an empty list of runs");
    report::MethodRuns method;
    for (const auto& run : runs) method.runs.push_back(report::read_run_curve(run));
    method.label = method_label(labels, i, method.runs.front());
    methods.push_back(std::move(method));
  }
  const auto comparison = report::compare(methods, budget_shares(flags.budgets));
  std::cout << report::comparison_table(comparison, flags.exits);
  if (!flags.markdown.empty()) {
    runtime::write_file_atomically(flags.markdown, report::comparison_markdown(comparison));
    std::cout << "Markdown: " << flags.markdown << std::endl;
  }
  std::vector<report::RunCurve> curves;
  for (const auto& m : methods) curves.push_back(report::mean_curve(m));
  const auto first_run = split(flags.methods.front(), ',').front();
  const auto output = flags.output.empty()
                          ? (std::filesystem::path(first_run).parent_path() / "comparison").string()
                          : flags.output;
  try {
    report::plot_accuracy_budget(curves, output, flags.title);
    std::cout << "Plot: " << output << ".png, " << output << ".svg" << std::endl;
  } catch (const std::runtime_error& e) {
    std::cerr << "l2w: warning: " << e.what() << std::endl;
  }
  return 0;
}

}  // namespace

Subcommand add_compare_command(CLI::App& parent) {
  auto flags = std::make_shared<CompareFlags>();
  auto* app = parent.add_subcommand("compare", "methods side by side: accuracy at shares of the full cost, differences, one chart");
  app->add_option("methods", flags->methods, "one argument per method: its run folder, or its runs (seeds) RUN,RUN,...")
      ->required();
  app->add_option("--budgets", flags->budgets, "budgets as shares of the full network's MUL-ADDs (default 0.25,0.5,0.75,1)");
  app->add_option("--labels", flags->labels, "method names, comma-separated (default: run folder names)");
  app->add_option("--markdown", flags->markdown, "also write the budget table to this Markdown file");
  app->add_flag("--exits", flags->exits, "also each exit's cost and test top-1 (anytime)");
  app->add_option("--output,-o", flags->output, "plot path without extension (default: FIRST_RUN/../comparison)");
  app->add_option("--title", flags->title, "chart title");
  return {app, [flags] { return run_compare(*flags); }};
}

}  // namespace l2w::cli
