// Adam with L2 weight decay, as PyTorch's torch.optim.Adam (amsgrad off): the WPN's optimizer.
#pragma once

#include <vector>

#include <torch/torch.h>

namespace l2w::train {

struct AdamOptions {
  TORCH_ARG(double, lr) = 1e-3;
  TORCH_ARG(double, beta1) = 0.9;
  TORCH_ARG(double, beta2) = 0.999;
  TORCH_ARG(double, eps) = 1e-8;
  TORCH_ARG(double, weight_decay) = 0.0;
};

class Adam {
 public:
  Adam(std::vector<torch::Tensor> params, AdamOptions options);
  // One step with `grads[i]` for parameter i. The step count, its bias corrections and the learning
  // rate are device scalars and the moments are updated in place, so that the step reads nothing from
  // the host that changes between steps.
  void step(const std::vector<torch::Tensor>& grads);

  const AdamOptions& options() const { return options_; }
  void set_lr(double lr);
  // PyTorch's layout: {"state": {i: {"step", "exp_avg", "exp_avg_sq"}}, "param_groups": [...]}.
  c10::IValue state_dict() const;
  void load_state_dict(const c10::IValue& state);

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;
  torch::Tensor steps_;  // float64 0-dim on the parameters' device
  torch::Tensor lr_;     // float64 0-dim on the parameters' device
  AdamOptions options_;
};

}  // namespace l2w::train
