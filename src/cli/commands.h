// The subcommands of `l2w`; each returns the process exit code.
#pragma once

#include <memory>

#include "flags.h"
#include "l2w/distributed/communicator.h"
#include "l2w/report/accuracy_budget_plot.h"

namespace l2w::cli {

int train_command(const Flags& flags);
int eval_command(const Flags& flags);
int flops_command(const Flags& flags);
int plot_command(const Flags& flags);
int infer_command(const Flags& flags);
int bench_infer_command(const Flags& flags);
int bench_command(const Flags& flags, const std::string& what);
int launch_command(const Flags& flags);

// Joins the data-parallel job the flags and environment describe (null when there is none: one
// process); a CUDA device without an index becomes the rank's local GPU. The job is remembered so that
// a failure's message names this rank and reaches the peers (report_error).
std::shared_ptr<distributed::Communicator> join_job(const Flags& flags, torch::Device& device);
// FlagError unless --batch-size divides among the job's processes (each takes an equal share).
void check_batch_divides(const Flags& flags);
// "l2w: error: …" on stderr, with this process's rank when it is in a job, which hears of it too.
void report_error(const std::string& kind, const std::string& message);

// The network the flags describe, seeded by --seed.
models::MultiExitNetwork build_network(const Flags& flags, const models::NetworkOptions& options);

// The network of --evaluate_from, checked against the architecture the flags describe (on the CPU).
models::MultiExitNetwork load_trained_network(const Flags& flags, const models::NetworkOptions& options);

// Draws RUN_DIR/accuracy_budget.{png,svg} for one run's results; a missing gnuplot is a warning.
void plot_run(const std::string& run_dir, const report::RunCurve& curve);

}  // namespace l2w::cli
