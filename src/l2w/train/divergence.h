// Divergence: a run whose loss, meta loss, loss weights or gradient stop being finite is stopped at once,
// before anything non-finite reaches a checkpoint, so that the last good checkpoint stays `latest`.
#pragma once

#include <stdexcept>
#include <string>

#include "l2w/io/checkpoint.h"
#include "l2w/train/train_step.h"

namespace l2w::train {

class DivergenceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws a DivergenceError naming the epoch (1-based), the iteration (1-based) and the first non-finite
// quantity of the step's report. One device synchronisation.
void check_finite(const StepReport& report, int64_t epoch, int64_t iteration);

// Throws a DivergenceError naming the first non-finite floating-point tensor of the checkpoint's state_dict
// or meta_state_dict.
void check_finite(const io::Checkpoint& checkpoint);

}  // namespace l2w::train
