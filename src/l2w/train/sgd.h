// SGD with momentum, dampening, weight decay and Nesterov, as PyTorch's torch.optim.SGD. Its update
// rule is one function so that the L2W pseudo step (docs/algorithm.md, step 4) and the real step cannot diverge.
#pragma once

#include <utility>
#include <vector>

#include <torch/torch.h>

#include "l2w/runtime/option_list.h"

namespace l2w::train {

struct SgdOptions {
  TORCH_ARG(double, lr) = 0.1;
  TORCH_ARG(double, momentum) = 0.9;
  TORCH_ARG(double, dampening) = 0.0;
  TORCH_ARG(double, weight_decay) = 1e-4;
  TORCH_ARG(bool, nesterov) = false;

 public:
  static const options::OptionList<SgdOptions>& option_list();
};

// options::OptionError naming the option for values torch.optim.SGD would refuse: a negative rate or
// weight decay, momentum outside [0, 1), Nesterov without momentum. (Nesterov with dampening, which
// torch also refuses, is kept: its update is well defined, and the meta step's tests exercise it.)
void check_sgd_options(const SgdOptions& options);

class Sgd {
 public:
  Sgd(std::vector<torch::Tensor> params, SgdOptions options);

  // The direction d of parameter i for gradient g and the momentum buffer the real step would store.
  // Differentiable in g and param: the meta step builds θ' = θ − lr·d on it.
  std::pair<torch::Tensor, torch::Tensor> update(size_t i, const torch::Tensor& g,
                                                 const torch::Tensor& param) const;
  // ∂d/∂g for parameter i as things stand (d is affine in g): 1 without momentum or before the first
  // step, 1 − dampening with a momentum buffer, times the Nesterov look-ahead 1 + momentum·(…).
  double direction_gain(size_t i) const;
  // θ ← θ − lr·d with the parameters' .grad(), advancing the momentum buffers in place (once they
  // exist), so that a captured step keeps updating the same memory. With `skip` (a 0-dim device flag,
  // fp16 loss scaling's overflow), nothing moves where it is non-zero, decided on the device.
  void step(const torch::Tensor& skip = {});
  void zero_grad();

  const SgdOptions& options() const { return options_; }
  // The learning rate, on the host and in lr(): a device scalar updated in place, which the step and
  // the meta step's pseudo update multiply by, so that neither depends on a value fixed at launch.
  void set_lr(double lr);
  const torch::Tensor& lr() const;
  const std::vector<torch::Tensor>& params() const { return params_; }
  // Undefined until parameter i's first step, as in PyTorch.
  std::vector<torch::Tensor>& momentum_buffers() { return buffers_; }
  const std::vector<torch::Tensor>& momentum_buffers() const { return buffers_; }

  // PyTorch's optimizer state_dict layout: {"state": {i: {"momentum_buffer"}}, "param_groups": [...]}.
  c10::IValue state_dict() const;
  void load_state_dict(const c10::IValue& state);

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> buffers_;
  SgdOptions options_;
  mutable torch::Tensor lr_;  // 0-dim, the parameters' dtype and device
};

}  // namespace l2w::train
