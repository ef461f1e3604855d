// What several subcommands share: the runtime, the network the flags describe, the run's validation
// subset, joining a data-parallel job, error reporting and the per-run chart.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "flags.h"
#include "l2w/distributed/communicator.h"
#include "l2w/io/run_folder.h"
#include "l2w/report/accuracy_budget_plot.h"

namespace l2w::cli {

// Sets LibTorch's thread count and the allocator's policy, and returns the device; errors name the flag.
torch::Device setup_runtime(const Flags& flags);

// Joins the data-parallel job the flags and environment describe (null when there is none: one
// process); a CUDA device without an index becomes the rank's local GPU. The job is remembered so that
// a failure's message names this rank and reaches the peers (report_error).
std::shared_ptr<distributed::Communicator> join_job(const Flags& flags, torch::Device& device);
// FlagError unless --batch-size divides among the job's processes (each takes an equal share).
void check_batch_divides(const Flags& flags);
// "l2w: KIND: …" on stderr, with this process's rank when it is in a job, which hears of it too.
void report_error(const std::string& kind, const std::string& message);
// Benchmarks' machine line: LibTorch's version, the thread counts and the device's matrix-product rate,
// measured in the same run, so that figures from different machines compare as ratios. Returns the rate.
double print_machine(const torch::Device& device);

// A pre-empted job's one line, from rank 0 only: every rank stops at the same iteration.
void report_preempted(const std::string& message);

// The network the flags describe, seeded by --seed, with --gradient-equilibrium.
models::MultiExitNetwork build_network(const Flags& flags, const models::NetworkOptions& options);
// The network of --evaluate_from, checked against the architecture the flags describe (on the CPU).
models::MultiExitNetwork load_trained_network(const Flags& flags, const models::NetworkOptions& options);

// The training samples that choose exit thresholds: the run's held-out subset with --use_valid, else
// all of them (an empty list).
std::vector<int64_t> validation_subset(const Flags& flags, const io::RunFolder& folder, int64_t train_size);

// Draws the run folder's accuracy_budget.{png,svg} for one run's results; a missing gnuplot is a warning.
void plot_run(const std::string& run_dir, const report::RunCurve& curve);

}  // namespace l2w::cli
