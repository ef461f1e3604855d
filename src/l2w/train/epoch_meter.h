// Running per-exit means over an epoch's training batches: the figures of progress lines and scores.tsv.
#pragma once

#include <vector>

#include "l2w/distributed/communicator.h"
#include "l2w/train/train_step.h"

namespace l2w::train {

// The sums stay on the device and are read only when a progress line or the epoch's figures need them:
// no wait for the device per iteration.
class EpochMeter {
 public:
  explicit EpochMeter(int64_t exits) : loss(exits, 0.0), correct(exits, 0) {}
  void add(const StepReport& report, const torch::Tensor& labels);
  // Brings the device sums to the host figures below.
  void read();
  // read(), then the figures over every rank's samples.
  void sum_over_ranks(distributed::Communicator* comm);

  double mean_loss(size_t k) const { return loss[k] / double(samples); }
  double top1(size_t k) const { return 100.0 * double(correct[k]) / double(samples); }
  double mean_meta_loss() const;  // NaN when no meta step was taken

  // The running sums as one float64 row on the CPU, and back (the row on the training device): an epoch
  // continued after a pre-emption reports what it would have reported uninterrupted.
  torch::Tensor state() const;
  void load_state(const torch::Tensor& row);

  std::vector<double> loss;       // per exit, summed over samples
  std::vector<int64_t> correct;   // per exit
  double meta_loss = 0;           // summed over meta steps
  int64_t meta_steps = 0;
  int64_t samples = 0;

 private:
  torch::Tensor loss_sum_, correct_sum_, meta_sum_;  // [K] float64, [K] int64, 0-dim float64
};

}  // namespace l2w::train
