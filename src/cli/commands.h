// The subcommands of `l2w`; each returns the process exit code.
#pragma once

#include "flags.h"
#include "l2w/eval/accuracy_budget_plot.h"

namespace l2w::cli {

int train_command(const Flags& flags);
int eval_command(const Flags& flags);
int flops_command(const Flags& flags);
int plot_command(const Flags& flags);
int infer_command(const Flags& flags);
int bench_infer_command(const Flags& flags);
int bench_command(const Flags& flags, const std::string& what);

// The network the flags describe, seeded by --seed.
models::MultiExitNetwork build_network(const Flags& flags, const models::NetworkOptions& options);

// The network of --evaluate_from, checked against the architecture the flags describe (on the CPU).
models::MultiExitNetwork load_trained_network(const Flags& flags, const models::NetworkOptions& options);

// Draws RUN_DIR/accuracy_budget.{png,svg} for one run's results; a missing gnuplot is a warning.
void plot_run(const std::string& run_dir, const eval::RunCurve& curve);

}  // namespace l2w::cli
