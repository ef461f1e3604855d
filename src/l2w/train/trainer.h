// The training loop: epochs of a TrainStep over shuffled, augmented batches, with per-epoch test
// evaluation, scores.tsv, atomic checkpoints, the best checkpoint and automatic resume
// (docs/algorithm.md, "Training").
//
// Data parallel with a communicator: every rank trains on its shard of each epoch with batches of
// batch_size / world_size, the gradients averaged; rank 0's initial parameters are everyone's; rank 0
// alone writes the run folder, which every rank must see (to resume); evaluation is split over the
// ranks and gathered, and equals a single process's evaluation of rank 0's model.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "l2w/dataset/batch_loader.h"
#include "l2w/dataset/data_sets.h"
#include "l2w/dataset/validation_split.h"
#include "l2w/distributed/data_parallel.h"
#include "l2w/eval/anytime.h"
#include "l2w/eval/dynamic.h"
#include "l2w/io/run_folder.h"
#include "l2w/models/network_options.h"
#include "l2w/train/divergence.h"
#include "l2w/train/epoch_meter.h"
#include "l2w/train/learner.h"
#include "l2w/train/lr_schedule.h"
#include "l2w/train/per_sample_record.h"
#include "l2w/train/progress_printer.h"
#include "l2w/train/run_checkpoints.h"
#include "l2w/train/train_step.h"

namespace l2w::train {

// What on_iteration is told.
struct IterationDone {
  int64_t epoch = 0, iteration = 0;  // 0-based
  int64_t iterations = 0;            // in the epoch
  double lr = 0;
  int64_t images = 0;                // in the batch
};

struct TrainerOptions {
  // The run folder: scores, checkpoints and results.
  TORCH_ARG(std::string, run_dir) = "runs/default";
  TORCH_ARG(int64_t, epochs) = 300;
  // Images per iteration over all processes of a data-parallel job.
  TORCH_ARG(int64_t, batch_size) = 64;
  // The learning-rate schedule; its epochs and iterations_per_epoch are filled in by the trainer.
  TORCH_ARG(LrSchedule, schedule);
  // The backbone's optimizer (its lr follows the schedule).
  TORCH_ARG(SgdOptions, sgd);
  // Seed of the data order, augmentation and held-out subset.
  TORCH_ARG(uint64_t, seed) = 0;
  // A progress line every this many iterations (0: none).
  TORCH_ARG(int64_t, print_freq) = 10;
  // Data loader threads.
  TORCH_ARG(int64_t, workers) = 1;
  // A checkpoint to resume from; empty: the run folder's latest, if any.
  TORCH_ARG(std::string, resume);
  // Without a checkpoint to resume: initial weights from this one.
  TORCH_ARG(std::string, finetune_from);
  // Image files that cannot be decoded are skipped and counted, not fatal.
  TORCH_ARG(bool, skip_bad_images) = false;
  TORCH_ARG(torch::Device, device) = torch::kCPU;
  // On a GPU, capture the training step as CUDA graphs and replay them (cuda_graph_step.h); a
  // data-parallel job's steps, and any step on the CPU, run eagerly.
  TORCH_ARG(bool, cuda_graphs) = true;
  // Mixed precision of evaluation (the steps carry their own).
  TORCH_ARG(runtime::Amp, amp) = runtime::Amp::kOff;
  // No progress lines or tables (set for every rank but 0).
  TORCH_ARG(bool, quiet) = false;
  // Hold out `num_sample_valid` training samples (saved as valid_index.txt) for dynamic evaluation;
  // otherwise the training set, without augmentation, is the validation set.
  TORCH_ARG(bool, use_valid) = false;
  TORCH_ARG(int64_t, num_sample_valid) = 5000;
  // A held-out index to adopt rather than draw (IMTA's second stage: its first stage's valid_index.txt).
  TORCH_ARG(std::string, adopt_valid_index);
  // Train at most this many epochs in this call, then return as if interrupted (0: no limit).
  TORCH_ARG(int64_t, stop_after) = 0;
  // A checkpoint inside the epoch every this many iterations (0: at epoch ends only). On a stop signal
  // (preemption.h) the trainer writes one whatever this is, and throws Preempted.
  TORCH_ARG(int64_t, save_every) = 0;
  // The data-parallel job this process belongs to; null: a single process.
  TORCH_ARG(std::shared_ptr<distributed::Communicator>, communicator);
  // Called after every iteration (a progress bar, a notebook's callback); it may throw to stop the run.
  TORCH_ARG(std::function<void(const IterationDone&)>, on_iteration);

 public:
  // The options a user gives (the SGD's and the schedule's among them); the rest are set by the program.
  static const options::OptionList<TrainerOptions>& option_list();
};

// The options as the trainer runs them: SGD's checked, the schedule's base rate from lr and its default
// milestones for `data` (a data set's name) when none are given, and, for IMTA's second stage trained
// from the checkpoint `imta_from`, its first stage's held-out images adopted. OptionError naming the
// option that does not fit.
TrainerOptions complete_trainer_options(TrainerOptions options, const std::string& data, const std::string& imta_from);


struct TrainResult {
  std::vector<eval::ExitMetrics> last_test;  // the final epoch's test metrics
  std::vector<eval::DynamicPoint> dynamic;   // budgeted evaluation of the final model
  std::vector<nn::Cost> costs;
  double best_prec1 = 0;
  int64_t epochs_run = 0;  // in this call (fewer than options.epochs after a resume)
};

class Trainer {
 public:
  Trainer(models::MultiExitNetwork net, const models::NetworkOptions& arch, const dataset::DataSplits& data,
          const TrainerOptions& options, const StepFactory& make_step);

  // Resumes, trains the remaining epochs (at most stop_after of them), then evaluates the final model.
  TrainResult run();

 private:
  void resume();
  EpochMeter run_epoch(int64_t epoch);
  void evaluate_and_checkpoint(int64_t epoch, EpochMeter& meter);
  void finish();

  // Inside an epoch, after `done` iterations: the --save-every checkpoint, or the pre-emption one.
  void checkpoint_within_epoch(int64_t epoch, int64_t done, const EpochMeter& meter);
  int stop_signal() const;  // agreed by every rank: the same iteration stops everywhere
  io::EpochProgress epoch_progress(int64_t done, const EpochMeter& meter) const;
  void restore_epoch_progress(const io::EpochProgress& progress, EpochMeter& meter);

  eval::ExitOutputs evaluate(dataset::BatchLoader& loader);
  void append_scores(int64_t epoch, const EpochMeter& meter) const;
  io::Checkpoint checkpoint(int64_t epochs_done) const;
  void save(int64_t epoch, bool is_best);
  std::unique_ptr<dataset::BatchLoader> evaluation_loader(std::shared_ptr<const dataset::ImageDataset> set,
                                                          std::vector<int64_t> subset) const;

  models::MultiExitNetwork net_;
  models::NetworkOptions arch_;
  dataset::DataSplits data_;
  const TrainerOptions options_;
  distributed::DataParallel parallel_;
  const bool quiet_;  // options.quiet, and every rank but 0
  RunCheckpoints checkpoints_;
  dataset::TrainValidSplit split_;
  std::unique_ptr<dataset::BatchLoader> train_loader_, test_loader_;
  std::optional<Learner> learner_;  // the iterations, SGD and the method's step
  DivergenceWatch divergence_;
  std::vector<torch::Tensor> replicated_;  // what every rank holds alike: backbone and method parameters
  std::optional<ProgressPrinter> progress_;
  std::optional<PerSampleRecord> per_sample_;  // in epochs that record one
  ResumePoint start_;
  std::optional<eval::ExitOutputs> test_outputs_;  // of the latest model
  TrainResult result_;
};

}  // namespace l2w::train
