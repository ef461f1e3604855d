// One training iteration as `l2w train` runs it, for a loop of the caller's (the Python package drives
// it from a DataLoader): the learning rate of the schedule at (epoch, iteration), then the method's step,
// its SGD (and, for L2W, the WPN's Adam) included.
#pragma once

#include <memory>
#include <stdexcept>

#include "l2w/train/lr_schedule.h"
#include "l2w/train/trainer.h"

namespace l2w::train {

struct LearnerOptions {
  TORCH_ARG(SgdOptions, sgd);
  // Its epochs and iterations_per_epoch place each iteration on the schedule.
  TORCH_ARG(LrSchedule, schedule);
};

// An iteration whose loss, weights or gradient came out NaN or infinite; the iteration was undone.
struct NonFiniteLoss : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Learner {
 public:
  // std::invalid_argument naming the field for options SGD refuses (check_sgd_options).
  Learner(models::MultiExitNetwork net, LearnerOptions options, const StepFactory& make_step);
  ~Learner();

  // Trains on one batch as iteration `iteration` (0-based) of epoch `epoch` (0-based); the network is
  // put in training mode first. std::invalid_argument for a place off the schedule (past its end
  // included) or a batch the network cannot take (mismatched counts, an empty batch, another dtype);
  // NonFiniteLoss, with the network, SGD's momentum and the method's state as they were before the
  // call, when the step's loss, weights or gradient are not finite.
  StepReport learn(const torch::Tensor& images, const torch::Tensor& labels, int64_t epoch, int64_t iteration);
  // The learning rate of the latest iteration.
  double lr() const { return lr_; }
  TrainStep& step() { return *step_; }
  Sgd& sgd() { return sgd_; }

 private:
  struct Snapshot;
  void check_position(int64_t epoch, int64_t iteration) const;
  Snapshot snapshot() const;
  void restore(const Snapshot& snapshot);

  models::MultiExitNetwork net_;
  LearnerOptions options_;
  Sgd sgd_;
  std::unique_ptr<TrainStep> step_;
  double lr_;
};

}  // namespace l2w::train
