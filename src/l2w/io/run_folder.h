// The run folder (`--train_url`, SPEC §5): where scores, checkpoints and results of a run live.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "l2w/nn/cost_meter.h"

namespace l2w::train {

class RunFolder {
 public:
  // Creates the folder and its save_models/ when missing.
  explicit RunFolder(std::string dir);

  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const;  // dir/name
  std::string scores() const { return file("scores.tsv"); }
  std::string flops() const { return file("flops.tsv"); }
  std::string checkpoint(int64_t epoch) const;  // save_models/checkpoint_NNN.pth.tar
  std::string best_checkpoint() const;          // save_models/model_best.pth.tar

  // The checkpoint named by save_models/latest.txt, if any.
  std::optional<std::string> latest_checkpoint() const;
  // Records `path` as the checkpoint to resume from (atomically).
  void set_latest(const std::string& path) const;

 private:
  std::string dir_;
};

// flops.tsv: one line per exit: exit, cumulative MUL-ADDs, cumulative parameters.
void write_flops(const std::string& path, const std::vector<nn::Cost>& costs);
std::vector<nn::Cost> read_flops(const std::string& path);

}  // namespace l2w::train
