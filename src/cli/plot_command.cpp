#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "l2w/report/accuracy_budget_plot.h"

namespace l2w::cli {
namespace {

struct PlotFlags {
  std::vector<std::string> runs;
  std::string output;
  std::string title = "Budgeted batch classification";
};

int run_plot(const PlotFlags& flags) {
  std::vector<report::RunCurve> runs;
  for (const auto& dir : flags.runs) runs.push_back(report::read_run_curve(dir));
  const auto output =
      flags.output.empty() ? (std::filesystem::path(flags.runs.front()) / "accuracy_budget_all").string() : flags.output;
  report::plot_accuracy_budget(runs, output, flags.title);
  std::cout << "Plot of " << runs.size() << " run(s): " << output << ".png, " << output << ".svg" << std::endl;
  return 0;
}

}  // namespace

Subcommand add_plot_command(CLI::App& parent) {
  auto flags = std::make_shared<PlotFlags>();
  auto* app = parent.add_subcommand("plot", "draw runs' accuracy against MUL-ADDs on one chart (PNG and SVG)");
  app->add_option("runs", flags->runs, "run folders (with dynamic.txt and/or anytime.csv)")->required();
  app->add_option("--output,-o", flags->output, "output path without extension (default: FIRST_RUN/accuracy_budget_all)");
  app->add_option("--title", flags->title, "chart title");
  return {app, [flags] { return run_plot(*flags); }};
}

}  // namespace l2w::cli
