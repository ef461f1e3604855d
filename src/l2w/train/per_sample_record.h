// The per-sample losses, confidences and weights of one epoch (docs/algorithm.md, "Per-sample
// records"), written as per_sample/epoch_NNN_{losses,confidences,weights}.tsv: one row per sample (its
// index in the training set first), one column per exit.
#pragma once

#include <vector>

#include "l2w/distributed/communicator.h"
#include "l2w/io/run_folder.h"
#include "l2w/train/train_step.h"

namespace l2w::train {

class PerSampleRecord {
 public:
  // Kept where the step left them (on the GPU: no wait per iteration) until the epoch is written.
  void add(const torch::Tensor& indices, const StepReport& report);
  // Every rank's rows (padding makes a few samples appear twice).
  void gather(distributed::Communicator* comm);
  void write(const io::RunFolder& folder, int64_t epoch) const;

  // The rows so far, one tensor per table (indices, losses, confidences[, weights]) on the CPU, and back:
  // an epoch continued after a pre-emption records every sample.
  std::vector<torch::Tensor> state() const;
  void load_state(const std::vector<torch::Tensor>& tables);

 private:
  std::vector<torch::Tensor> indices_, losses_, confidences_, weights_;
};

}  // namespace l2w::train
