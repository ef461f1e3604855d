// One training iteration: the learning rate of the schedule at (epoch, iteration), then the method's
// step, its SGD (and, for L2W, the WPN's Adam) included. `l2w train`'s Trainer runs every iteration
// through it, and a loop of the caller's can too (the Python package drives it from a DataLoader).
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>

#include "l2w/distributed/data_parallel.h"
#include "l2w/train/lr_schedule.h"
#include "l2w/train/sgd.h"
#include "l2w/train/train_step.h"

namespace l2w::train {

// Makes the method's step for the network, its optimizer and its data parallelism (never null).
using StepFactory =
    std::function<std::unique_ptr<TrainStep>(models::MultiExitNetworkImpl&, Sgd&, distributed::DataParallel*)>;

struct LearnerOptions {
  TORCH_ARG(SgdOptions, sgd);
  // Its epochs and iterations_per_epoch place each iteration on the schedule.
  TORCH_ARG(LrSchedule, schedule);
  // Each place and batch checked, and an iteration whose loss, weights or gradient are not finite undone
  // (NonFiniteLoss): a copy of the state and a read by the host per iteration. The Trainer turns this
  // off: its batches are its own, and it watches for divergence without waiting on the device.
  TORCH_ARG(bool, guarded) = true;
  // On a GPU: the step captured as CUDA graphs and replayed (cuda_graph_step.h).
  TORCH_ARG(bool, cuda_graphs) = false;
};

// An iteration whose loss, weights or gradient came out NaN or infinite; the iteration was undone.
struct NonFiniteLoss : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Learner {
 public:
  // std::invalid_argument naming the field for options SGD refuses (check_sgd_options). `parallel`: the
  // data-parallel job the steps average gradients over (null: one process).
  Learner(models::MultiExitNetwork net, LearnerOptions options, const StepFactory& make_step,
          distributed::DataParallel* parallel = nullptr);
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
  const TrainStep& step() const { return *step_; }
  Sgd& sgd() { return sgd_; }
  const Sgd& sgd() const { return sgd_; }

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
