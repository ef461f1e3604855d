// What several subcommands share beyond their flags: error reporting (with the data-parallel job's
// rank), the benchmarks' machine line and the per-run chart.
#pragma once

#include <memory>
#include <string>

#include <torch/torch.h>

#include "l2w/distributed/communicator.h"
#include "l2w/report/accuracy_budget_plot.h"

namespace l2w::cli {

// The job this process joined: report_error names its rank and tells its peers.
void remember_job(std::shared_ptr<distributed::Communicator> comm);
// "l2w: KIND: …" on stderr, with this process's rank when it is in a job, which hears of it too.
void report_error(const std::string& kind, const std::string& message);
// A pre-empted job's one line, from rank 0 only: every rank stops at the same iteration.
void report_preempted(const std::string& message);

// Benchmarks' machine line: LibTorch's version, the thread counts and the device's matrix-product rate,
// measured in the same run, so that figures from different machines compare as ratios. Returns the rate.
double print_machine(const torch::Device& device);

// Draws the run folder's accuracy_budget.{png,svg} for one run's results; a missing gnuplot is a warning.
void plot_run(const std::string& run_dir, const report::RunCurve& curve);

}  // namespace l2w::cli
