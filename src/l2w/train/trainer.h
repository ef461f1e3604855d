// The training loop: epochs of a TrainStep over shuffled, augmented batches, with per-epoch test
// evaluation, scores.tsv, atomic checkpoints, the best checkpoint and automatic resume (SPEC §5).
//
// Data parallel with a communicator: every rank trains on its shard of each epoch with batches of
// batch_size / world_size, the gradients averaged; rank 0's initial parameters are everyone's; rank 0
// alone writes the run folder, which every rank must see (to resume); evaluation is split over the
// ranks and gathered, and equals a single process's evaluation of rank 0's model.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "l2w/dataset/batch_loader.h"
#include "l2w/dataset/data_sets.h"
#include "l2w/eval/anytime.h"
#include "l2w/eval/dynamic.h"
#include "l2w/models/network_options.h"
#include "l2w/train/lr_schedule.h"
#include "l2w/train/run_folder.h"
#include "l2w/train/train_step.h"

namespace l2w::train {

struct TrainerOptions {
  std::string run_dir = "runs/default";
  int64_t epochs = 300;
  int64_t batch_size = 64;
  LrSchedule schedule;  // iterations_per_epoch is filled in by the trainer
  SgdOptions sgd;
  uint64_t seed = 0;
  int64_t print_freq = 10;
  int64_t workers = 1;
  std::string resume;  // a checkpoint to resume from; empty: save_models/latest.txt if present
  std::string finetune_from;
  bool skip_bad_images = false;  // image files that cannot be decoded: skipped and counted, not fatal  // without a checkpoint to resume: initial weights from this one
  torch::Device device = torch::kCPU;
  runtime::Amp amp = runtime::Amp::kOff;  // mixed precision of evaluation (the steps carry their own)
  bool quiet = false;
  // Hold out `num_sample_valid` training samples (saved as valid_index.txt) for dynamic evaluation;
  // otherwise the training set, without augmentation, is the validation set.
  bool use_valid = false;
  int64_t num_sample_valid = 5000;
  // Train at most this many epochs in this call, then return as if interrupted (0: no limit).
  int64_t stop_after = 0;
  // The data-parallel job this process belongs to; null: a single process.
  std::shared_ptr<distributed::Communicator> communicator;
};

// Makes the method's step for the network, its optimizer and its data parallelism (never null).
using StepFactory =
    std::function<std::unique_ptr<TrainStep>(models::MultiExitNetworkImpl&, Sgd&, distributed::DataParallel*)>;

struct TrainResult {
  std::vector<eval::ExitMetrics> last_test;  // the final epoch's test metrics
  std::vector<eval::DynamicPoint> dynamic;   // budgeted evaluation of the final model
  std::vector<nn::Cost> costs;
  double best_prec1 = 0;
  int64_t epochs_run = 0;  // in this call (fewer than options.epochs after a resume)
};

// Refuses, with a CheckpointError naming both, a checkpoint written for another architecture or class
// count than `arch` (load_state_dict then checks key by key, shape by shape).
void check_architecture(const io::Checkpoint& checkpoint, const std::string& path, const models::NetworkOptions& arch);

TrainResult train(models::MultiExitNetwork net, const models::NetworkOptions& arch,
                  const dataset::DataSplits& data, TrainerOptions options, const StepFactory& make_step);

}  // namespace l2w::train
