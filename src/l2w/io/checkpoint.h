// Checkpoints in the reference's layout, written with torch's pickle format so that Python's
// torch.load opens them: {epoch, arch, config, state_dict, optimizer, best_prec1[, meta_state_dict,
// meta_optimizer][, iteration, epoch_state]}. The last two mark a checkpoint written inside an epoch.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "l2w/io/state_dict.h"

namespace l2w::io {

// Where an epoch stood when a checkpoint was written inside it, so that the resumed epoch's scores row
// and per-sample records are those of an uninterrupted one. Stored as `iteration` and
// `epoch_state` = {"meter": meters, "per_sample": [tables]}.
struct EpochProgress {
  int64_t iteration = 0;                  // iterations of the epoch done (> 0)
  torch::Tensor meters;                   // each rank's running figures (EpochMeter::state), a row per rank
  std::vector<torch::Tensor> per_sample;  // the per-sample record's tables, every rank's rows in rank order
};

struct Checkpoint {
  int64_t epoch = 0;  // epochs completed
  std::string arch;
  std::string config;  // models::describe() of the network that wrote it
  StateDict state_dict;
  c10::IValue optimizer;
  double best_prec1 = 0;
  StateDict meta_state_dict;  // L2W's weight prediction network; empty for plain training
  c10::IValue meta_optimizer;
  // Set when written inside epoch `epoch + 1` (a pre-emption, --save-every); empty at an epoch's end.
  std::optional<EpochProgress> within_epoch;
};

// Writes `path` atomically: to a temporary file, synced, then renamed over the old one, so a kill
// during the write leaves the previous checkpoint intact.
void save_checkpoint(const Checkpoint& checkpoint, const std::string& path);

// CheckpointError naming the file when it is missing, truncated or not a checkpoint.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace l2w::io
