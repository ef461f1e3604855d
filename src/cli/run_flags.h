// The flags of the commands on a run (train, eval, infer, serve and their benchmarks): the model's, the
// run folder, batch, data loading and precision (the trainer's options), the checkpoint, the exit
// criterion, and how the network is deployed.
#pragma once

#include <string>
#include <vector>

#include "l2w/criterion/exit_criterion.h"
#include "l2w/infer/deployment.h"
#include "l2w/io/run_folder.h"
#include "l2w/train/trainer.h"
#include "model_flags.h"

namespace l2w::cli {

struct RunFlags {
  ModelFlags model;
  train::TrainerOptions run;  // --seed, --train_url, --batch-size, --workers, --use_valid, --amp, training's own
  std::string evaluate_from;  // the checkpoint
  criterion::ExitCriterion exit_criterion = criterion::ExitCriterion::kMaxProb;
};

// The model's flags, --seed, data loading (--workers, --use_valid, ...) and the run's (--train_url,
// --batch-size, --print-freq).
void add_run_flags(CLI::App& app, RunFlags& flags);
void add_precision_flag(CLI::App& app, RunFlags& flags);       // --amp
void add_checkpoint_flag(CLI::App& app, RunFlags& flags);      // --evaluate_from
void add_exit_criterion_flag(CLI::App& app, RunFlags& flags);  // --exit-criterion
// infer's, serve's and bench infer's --memory-format, --training-form, --batching.
void add_deployment_flags(CLI::App& app, infer::DeploymentOptions& deployment);

// After parsing: the reference's default for ImageNet, 50000 held-out images for --use_valid, unless
// --num_sample_valid was given.
void apply_data_defaults(const CLI::App& app, RunFlags& flags);

// The network of --evaluate_from, checked against the architecture the flags describe (on the CPU).
models::MultiExitNetwork load_trained_network(const RunFlags& flags, const models::NetworkOptions& options);
// The training samples that choose exit thresholds: the run's held-out subset with --use_valid, else
// all of them (an empty list).
std::vector<int64_t> validation_subset(const RunFlags& flags, const io::RunFolder& folder, int64_t train_size);
// How the network is deployed: the deployment flags, and --threads (a count given is used for latency too).
infer::DeploymentOptions deployment_options(const infer::DeploymentOptions& deployment, const RunFlags& flags);

}  // namespace l2w::cli
