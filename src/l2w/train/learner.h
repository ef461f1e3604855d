// One training iteration as `l2w train` runs it, for a loop of the caller's (the Python package drives
// it from a DataLoader): the learning rate of the schedule at (epoch, iteration), then the method's step,
// its SGD (and, for L2W, the WPN's Adam) included.
#pragma once

#include <memory>

#include "l2w/train/lr_schedule.h"
#include "l2w/train/trainer.h"

namespace l2w::train {

struct LearnerOptions {
  TORCH_ARG(SgdOptions, sgd);
  // Its epochs and iterations_per_epoch place each iteration on the schedule.
  TORCH_ARG(LrSchedule, schedule);
};

class Learner {
 public:
  Learner(models::MultiExitNetwork net, LearnerOptions options, const StepFactory& make_step);

  // Trains on one batch as iteration `iteration` (0-based) of epoch `epoch` (0-based); the network is
  // put in training mode first.
  StepReport learn(const torch::Tensor& images, const torch::Tensor& labels, int64_t epoch, int64_t iteration);
  // The learning rate of the latest iteration.
  double lr() const { return lr_; }
  TrainStep& step() { return *step_; }
  Sgd& sgd() { return sgd_; }

 private:
  models::MultiExitNetwork net_;
  LearnerOptions options_;
  Sgd sgd_;
  std::unique_ptr<TrainStep> step_;
  double lr_;
};

}  // namespace l2w::train
