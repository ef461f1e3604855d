// The flags of train and bench train: the run's, the optimiser's and schedule's, the method's (L2W,
// IMTA), and the data-parallel job's.
#pragma once

#include <memory>
#include <string>

#include "l2w/distributed/communicator.h"
#include "l2w/distributed/job_options.h"
#include "l2w/meta/training_method.h"
#include "run_flags.h"

namespace l2w::cli {

struct TrainFlags {
  RunFlags common;
  meta::MethodOptions method;   // --method, L2W's flags, --label-smoothing, IMTA's distillation
  distributed::JobRequest job;  // --dist_url, --world_size, --rank, --dist_backend, --dist_timeout
  bool gradient_equilibrium = false;     // IMTA's: scales the gradients each block receives from the exits
  std::string imta_from;                 // --imta-stage2: the first stage's checkpoint
  bool imta_freeze_backbone_bn = false;  // --imta-stage2: the backbone stays in eval mode
};

void add_training_flags(CLI::App& app, TrainFlags& flags);

// The options the library trains with, errors named by their flags.
train::TrainerOptions trainer_options(const TrainFlags& flags, const torch::Device& device);
meta::MethodOptions method_options(const TrainFlags& flags);
// The network the flags describe, seeded by --seed, with --gradient-equilibrium and IMTA's stages.
models::MultiExitNetwork build_network(const TrainFlags& flags, const models::NetworkOptions& options);

// Joins the data-parallel job the flags and environment describe (null when there is none: one
// process); a CUDA device without an index becomes the rank's local GPU. The job is remembered so that
// a failure's message names this rank and reaches the peers (report_error).
std::shared_ptr<distributed::Communicator> join_job(const TrainFlags& flags, torch::Device& device);
// FlagError unless --batch-size divides among the job's processes (each takes an equal share).
void check_batch_divides(const TrainFlags& flags);

}  // namespace l2w::cli
