// The run folder (`--train_url`): where the scores, checkpoints and results of a run live. Every file
// of a run is named here, once.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "l2w/nn/cost_meter.h"

namespace l2w::io {

class RunFolder {
 public:
  // Names the files of the run in `dir`; creates nothing (see create()).
  explicit RunFolder(std::string dir);
  // Creates the folder and its save_models/ when missing.
  const RunFolder& create() const;

  const std::string& dir() const { return dir_; }
  std::string scores() const { return file("scores.tsv"); }           // one row per epoch
  std::string flops() const { return file("flops.tsv"); }             // per-exit MUL-ADDs and parameters
  std::string anytime() const { return file("anytime.csv"); }         // per-exit test accuracy
  std::string dynamic() const { return file("dynamic.txt"); }         // budgeted evaluation sweep
  std::string valid_index() const { return file("valid_index.txt"); } // the held-out samples (--use_valid)
  std::string thresholds() const { return file("thresholds.txt"); }   // eval --budget's default
  std::string infer_bench() const { return file("infer_bench.tsv"); } // bench infer's table
  std::string budgets() const { return file("budgets.txt"); }         // l2w serve's budget menu
  std::string exit_policy() const { return file("exit_policy.txt"); } // eval's exit criterion (and calibration)
  std::string precision_comparison() const { return file("precision_comparison.tsv"); }  // eval --precision bf16
  // .npy files of `eval --save-probs`; `set` is valid or test.
  std::string probabilities(const std::string& set) const { return file("probs_" + set + ".npy"); }
  std::string labels(const std::string& set) const { return file("labels_" + set + ".npy"); }
  // per_sample/epoch_NNN_WHAT.tsv; `what` is losses, confidences or weights.
  std::string per_sample(int64_t epoch, const std::string& what) const;
  // Charts, without extension (.png, .svg, .dat and .gp are written beside each other).
  std::string accuracy_budget_chart() const { return file("accuracy_budget"); }
  std::string accuracy_latency_chart() const { return file("accuracy_latency"); }
  std::string accuracy_throughput_chart() const { return file("accuracy_throughput"); }
  std::string checkpoint(int64_t epoch) const;  // save_models/checkpoint_NNN.pth.tar
  // save_models/checkpoint_NNN_IIIIII.pth.tar: after NNN epochs and IIIIII iterations of the next one.
  std::string checkpoint_within_epoch(int64_t epochs_done, int64_t iteration) const;
  std::string best_checkpoint() const;          // save_models/model_best.pth.tar

  // The checkpoint named by save_models/latest.txt, if any.
  std::optional<std::string> latest_checkpoint() const;
  // Where a resume looks, in order: latest.txt's checkpoint (whether or not it exists), then every
  // save_models/checkpoint_NNN.pth.tar, newest first.
  std::vector<std::string> resume_candidates() const;
  // Records `path` as the checkpoint to resume from (atomically).
  void set_latest(const std::string& path) const;

 private:
  std::string file(const std::string& name) const;  // dir/name
  std::string dir_;
};

// The run folder a checkpoint belongs to: the folder above save_models/, or the checkpoint's own folder
// when it lies elsewhere.
RunFolder run_folder_of_checkpoint(const std::string& checkpoint_path);

// flops.tsv: one line per exit: exit, cumulative MUL-ADDs, cumulative parameters.
void write_flops(const std::string& path, const std::vector<nn::Cost>& costs);
std::vector<nn::Cost> read_flops(const std::string& path);

}  // namespace l2w::io
