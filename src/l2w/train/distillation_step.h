// IMTA's second stage as a training step (docs/algorithm.md, "IMTA"): the new heads of an ImtaNetwork
// learn by one-for-all knowledge distillation from the frozen backbone's last exit; the backbone's
// parameters, frozen, get no gradient and so no update.
#pragma once

#include "l2w/criterion/knowledge_distillation.h"
#include "l2w/models/imta_network.h"
#include "l2w/train/train_step.h"

namespace l2w::train {

class DistillationStep : public TrainStep {
 public:
  DistillationStep(models::ImtaNetworkImpl& net, Sgd& sgd, criterion::DistillationOptions options,
                   distributed::DataParallel* parallel = nullptr, runtime::Amp amp = runtime::Amp::kOff);
  StepReport compute(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition& position) override;

 private:
  models::ImtaNetworkImpl& net_;
  Sgd& sgd_;
  criterion::DistillationOptions options_;
  distributed::DataParallel* parallel_;
  runtime::Amp amp_;
  runtime::LossScaler scaler_;
};

}  // namespace l2w::train
