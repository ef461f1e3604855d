// The run folder's checkpoint protocol (docs/algorithm.md, "Training"): which checkpoint a run resumes
// from and what it restores, where each checkpoint goes and which one latest.txt names, and the held-out
// validation split. In a data-parallel job rank 0 writes and every rank reads, so every rank must see
// the same folder.
#pragma once

#include <optional>
#include <string>

#include "l2w/dataset/validation_split.h"
#include "l2w/distributed/communicator.h"
#include "l2w/io/checkpoint.h"
#include "l2w/io/run_folder.h"
#include "l2w/models/network_options.h"
#include "l2w/train/sgd.h"
#include "l2w/train/train_step.h"

namespace l2w::train {

// Refuses, with a CheckpointError naming both, a checkpoint written for another architecture or class
// count than `arch` (load_state_dict then checks key by key, shape by shape).
void check_architecture(const io::Checkpoint& checkpoint, const std::string& path, const models::NetworkOptions& arch);

// Where a run starts: after `epoch` epochs, and inside the next one when `within_epoch` is set.
struct ResumePoint {
  int64_t epoch = 0;
  std::optional<io::EpochProgress> within_epoch;
  double best_prec1 = 0;
  int64_t iteration() const { return within_epoch ? within_epoch->iteration : 0; }
};

struct RunCheckpointsOptions {
  // A checkpoint to resume from; empty: the run folder's newest that reads.
  TORCH_ARG(std::string, resume);
  // Without a checkpoint to resume: the weights of this one (epochs, optimizer and WPN start afresh).
  TORCH_ARG(std::string, finetune_from);
  // No messages (every rank but 0).
  TORCH_ARG(bool, quiet) = false;
};

class RunCheckpoints {
 public:
  // `comm` is the job's communicator, null for one process.
  RunCheckpoints(io::RunFolder folder, models::NetworkOptions arch, RunCheckpointsOptions options,
                 distributed::Communicator* comm);

  const io::RunFolder& folder() const { return folder_; }

  // The run's training and held-out samples: rank 0 draws the held-out subset (or reads the saved one),
  // the others then read what it saved.
  dataset::TrainValidSplit split(int64_t train_size, dataset::SplitOptions options) const;

  // Loads the checkpoint to resume from into the network, optimizer and method (or the fine-tuning
  // weights into the network), and checks that every rank resumes at the same place.
  ResumePoint resume(models::MultiExitNetworkImpl& net, Sgd& sgd, TrainStep& step);

  // Rank 0: the checkpoint after c.epoch epochs, or inside the next one when c.within_epoch is set;
  // latest.txt then names it, and the previous within-epoch checkpoint, superseded, goes. Returns its path.
  std::string save(const io::Checkpoint& c);
  // Rank 0: model_best.pth.tar.
  void save_best(const io::Checkpoint& c) const;

 private:
  void record_latest(const std::string& path);

  io::RunFolder folder_;
  models::NetworkOptions arch_;
  RunCheckpointsOptions options_;
  distributed::Communicator* comm_;
  std::string within_epoch_checkpoint_;  // the latest one, removed once a newer checkpoint is recorded
};

}  // namespace l2w::train
