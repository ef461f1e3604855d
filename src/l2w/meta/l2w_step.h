// The L2W training iteration (SPEC §2): the batch is split in halves; each half in turn trains while
// the other is meta data. A meta step updates the weight prediction network (WPN) by differentiating,
// through a pseudo SGD step of the backbone, the loss of the meta half at its target exits; then the
// real step trains the backbone with the updated WPN's weights.
#pragma once

#include <vector>

#include "l2w/meta/weight_prediction_network.h"
#include "l2w/models/multi_exit_network.h"
#include "l2w/train/adam.h"
#include "l2w/train/train_step.h"

namespace l2w::meta {

struct MetaOptions {
  explicit MetaOptions(int64_t num_exits) : wpn(num_exits) {}
  WpnOptions wpn;
  int64_t meta_interval = 1;
  double meta_lr = 1e-4;
  double meta_weight_decay = 1e-4;
  int64_t target_p_index = 15;
  double label_smoothing = 0.0;
};

struct MetaGradient {
  double meta_loss = 0;
  std::vector<torch::Tensor> grads;  // ∂meta_loss/∂φ for each WPN parameter
};

class L2WStep : public train::TrainStep {
 public:
  L2WStep(models::MultiExitNetworkImpl& net, train::Sgd& sgd, const MetaOptions& options);

  train::StepReport run(const torch::Tensor& images, const torch::Tensor& labels,
                        const train::StepPosition& position) override;
  bool has_meta() const override { return true; }
  double meta_lr() const override { return meta_lr_; }
  void save(train::Checkpoint& checkpoint) const override;
  void load(const train::Checkpoint& checkpoint) override;

  // Steps 1a–1g up to the WPN gradient, second order, without changing anything: the backbone's
  // parameters, gradients and BatchNorm statistics are untouched, and the WPN is not stepped.
  MetaGradient meta_gradient(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& meta_x,
                             const torch::Tensor& meta_y);
  WeightPredictionNetwork& wpn() { return wpn_; }

 private:
  // The real step on one half: weights from the WPN without gradient, one SGD step.
  void real_step(const torch::Tensor& x, const torch::Tensor& y, train::StepReport& report);

  models::MultiExitNetworkImpl& net_;
  train::Sgd& sgd_;
  MetaOptions options_;
  WeightPredictionNetwork wpn_;
  train::Adam adam_;
  std::vector<float> target_;
  double meta_lr_;
};

}  // namespace l2w::meta
