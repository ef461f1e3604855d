// Divergence: a run whose loss, meta loss, loss weights or gradient stop being finite is stopped at once,
// before anything non-finite reaches a checkpoint, so that the last good checkpoint stays `latest`.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "l2w/io/checkpoint.h"
#include "l2w/train/train_step.h"

namespace l2w::train {

class DivergenceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Watches each iteration's report for non-finite values where they are computed, without waiting for
// the device: the first bad iteration, its quantity and its value are kept in a small device tensor and
// read back by check(), which the trainer calls at progress lines, before every checkpoint and at the
// end of each epoch. A diverged run thus stops at the first of those, naming the iteration where it
// diverged, and never writes the diverged parameters.
class DivergenceWatch {
 public:
  // Epoch and iteration 1-based. Device operations only.
  void add(const StepReport& report, int64_t epoch, int64_t iteration);
  // Throws a DivergenceError naming the epoch, the iteration and the first non-finite quantity of the
  // first bad report added. One device synchronisation.
  void check();

 private:
  torch::Tensor first_;  // int64 {report index, quantity, value kind} of the first bad report; -1 while none
  std::vector<std::pair<int64_t, int64_t>> positions_;  // (epoch, iteration) of each report since the last check
};

// add() then check() for one report.
void check_finite(const StepReport& report, int64_t epoch, int64_t iteration);

// Throws a DivergenceError naming the first non-finite floating-point tensor of the checkpoint's state_dict
// or meta_state_dict.
void check_finite(const io::Checkpoint& checkpoint);

}  // namespace l2w::train
