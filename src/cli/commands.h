// The subcommands of `l2w`, each with its flags beside it (its own .cpp): add_*_command adds the
// subcommand and its flags to `parent` and returns what runs it (the process exit code).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace l2w::cli {

struct Subcommand {
  CLI::App* app;
  std::function<int()> run;  // after parsing, when `app` was the command given
};

Subcommand add_train_command(CLI::App& parent);
Subcommand add_eval_command(CLI::App& parent);
Subcommand add_infer_command(CLI::App& parent);
Subcommand add_flops_command(CLI::App& parent);
Subcommand add_plot_command(CLI::App& parent);
Subcommand add_compare_command(CLI::App& parent);
Subcommand add_launch_command(CLI::App& parent);
Subcommand add_export_command(CLI::App& parent);
Subcommand add_serve_command(CLI::App& parent);
Subcommand add_bench_train_command(CLI::App& parent);
Subcommand add_bench_infer_command(CLI::App& parent);
Subcommand add_bench_data_command(CLI::App& parent);
Subcommand add_bench_serve_command(CLI::App& parent);

}  // namespace l2w::cli
