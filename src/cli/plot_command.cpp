#include <filesystem>
#include <iostream>

#include "commands.h"

namespace l2w::cli {

int plot_command(const Flags& flags) {
  std::vector<report::RunCurve> runs;
  for (const auto& dir : flags.plot_runs) runs.push_back(report::read_run_curve(dir));
  const auto output = flags.plot_output.empty()
                          ? (std::filesystem::path(flags.plot_runs.front()) / "accuracy_budget_all").string()
                          : flags.plot_output;
  report::plot_accuracy_budget(runs, output, flags.plot_title);
  std::cout << "Plot of " << runs.size() << " run(s): " << output << ".png, " << output << ".svg" << std::endl;
  return 0;
}

}  // namespace l2w::cli
