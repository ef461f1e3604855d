// One training iteration of a method (plain multi-exit, or L2W): the trainer owns the loop, the
// schedule, the data and the run folder; a TrainStep owns what happens to one batch.
#pragma once

#include <memory>
#include <vector>

#include "l2w/distributed/data_parallel.h"
#include "l2w/models/multi_exit_network.h"
#include "l2w/runtime/mixed_precision.h"
#include "l2w/io/checkpoint.h"
#include "l2w/train/sgd.h"

namespace l2w::train {

struct StepReport {
  std::vector<torch::Tensor> logits;  // detached, per exit, of the real step
  torch::Tensor losses;               // [n, K] detached per-sample per-exit losses of the real step
  torch::Tensor weights;              // [n, K] detached loss weights; undefined for plain training
  torch::Tensor meta_loss;            // 0-dim, on the device; undefined when no meta step was taken
  torch::Tensor grad_norm;            // 0-dim: the backbone's largest gradient norm of the step's SGD updates
};

// Where in its epoch an iteration is.
struct StepPosition {
  int64_t iteration = 0;  // 0-based, within the epoch
  double lr_factor = 1.0;  // the schedule's current lr / base lr; other rates follow the same schedule
};

class TrainStep {
 public:
  virtual ~TrainStep() = default;
  // Trains on one batch: prepare(), then compute(). The optimizer's learning rate is already set for
  // `position`.
  virtual StepReport run(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition& position) {
    prepare(position);
    return compute(images, labels, position);
  }
  // What the step sets from the host for `position` (rates that follow the schedule). A captured step
  // (CudaGraphStep) runs it outside the graph before each replay.
  virtual void prepare(const StepPosition& position) {}
  // The iteration's device work. Iterations of one kind() launch the same work, whatever their position.
  virtual StepReport compute(const torch::Tensor& images, const torch::Tensor& labels,
                             const StepPosition& position) = 0;
  virtual int kind(const StepPosition& position) const { return 0; }
  // True when the method has a meta learner (scores.tsv then carries meta_lr and meta loss).
  virtual bool has_meta() const { return false; }
  virtual double meta_lr() const { return 0.0; }
  // The method's own state in checkpoints.
  virtual void save(io::Checkpoint& checkpoint) const {}
  virtual void load(const io::Checkpoint& checkpoint) {}
  // Tensors beyond the backbone that every rank must start with equal (the meta learner's parameters).
  virtual std::vector<torch::Tensor> shared_state() const { return {}; }
};

// loss.backward() into the parameters' .grad; with `parallel`, the gradients are averaged over ranks.
void backward(const torch::Tensor& loss, distributed::DataParallel* parallel);

// The real step's update from its loss: zero the gradients, backward (loss-scaled for fp16), then the
// SGD step unless fp16 gradients overflowed (the scaler then lowers its scale and the step is skipped).
// Returns the gradient's norm (0-dim, on the device; 0 for a skipped fp16 step), which divergence checks read.
torch::Tensor descend(const torch::Tensor& loss, Sgd& sgd, distributed::DataParallel* parallel, runtime::LossScaler& scaler);

// The forward of a real step: under autocast with mixed precision, the logits returned in float32 so
// that losses, confidences and everything after them are computed as without it.
std::vector<torch::Tensor> forward_logits(models::MultiExitNetworkImpl& net, const torch::Tensor& images,
                                          runtime::Amp amp);

// Plain multi-exit training (docs/algorithm.md): Σ_k mean_i CE_ik, one SGD step. With `parallel`
// (the backbone's data parallelism), the step's gradient is the average over ranks.
class PlainStep : public TrainStep {
 public:
  PlainStep(models::MultiExitNetworkImpl& net, Sgd& sgd, double label_smoothing,
            distributed::DataParallel* parallel = nullptr, runtime::Amp amp = runtime::Amp::kOff);
  StepReport compute(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition& position) override;

 private:
  models::MultiExitNetworkImpl& net_;
  Sgd& sgd_;
  double label_smoothing_;
  distributed::DataParallel* parallel_;
  runtime::Amp amp_;
  runtime::LossScaler scaler_;
};

}  // namespace l2w::train
