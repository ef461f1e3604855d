#include "l2w/train/adam.h"

#include <cmath>
#include <stdexcept>

#include "l2w/train/optimizer_state.h"

namespace l2w::train {

Adam::Adam(std::vector<torch::Tensor> params, AdamOptions options)
    : params_(std::move(params)), exp_avg_(params_.size()), exp_avg_sq_(params_.size()), options_(options) {
  const auto device = params_.front().device();
  steps_ = torch::zeros({}, torch::TensorOptions(torch::kFloat64).device(device));
  lr_ = torch::full({}, options_.lr(), torch::TensorOptions(torch::kFloat64).device(device));
}

void Adam::set_lr(double lr) {
  options_.lr(lr);
  lr_.fill_(lr);
}

void Adam::step(const std::vector<torch::Tensor>& grads) {
  torch::NoGradGuard no_grad;
  // Parameters moved since construction (Module::to) take their scalars along.
  if (steps_.device() != params_.front().device()) {
    steps_ = steps_.to(params_.front().device());
    lr_ = lr_.to(params_.front().device());
  }
  steps_.add_(1);
  // The same float64 arithmetic as with host scalars: 1 − β^t, and −lr / (1 − β1^t).
  const auto bias2_sqrt = (1.0 - torch::pow(options_.beta2(), steps_)).sqrt();
  const auto step_size = -lr_ / (1.0 - torch::pow(options_.beta1(), steps_));
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    torch::Tensor g = grads[i];
    if (options_.weight_decay() != 0) g = g + options_.weight_decay() * p;
    if (!exp_avg_[i].defined()) {
      exp_avg_[i] = torch::zeros_like(p);
      exp_avg_sq_[i] = torch::zeros_like(p);
    }
    exp_avg_[i].mul_(options_.beta1()).add_(g, 1.0 - options_.beta1());
    exp_avg_sq_[i].mul_(options_.beta2()).addcmul_(g, g, 1.0 - options_.beta2());
    const auto denom = (exp_avg_sq_[i].sqrt() / bias2_sqrt).add_(options_.eps());
    // addcdiv's arithmetic, p + (step_size·m)/denom, with a device step size.
    p.add_(step_size * exp_avg_[i] / denom);
  }
}

c10::IValue Adam::state_dict() const {
  c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!exp_avg_[i].defined()) continue;
    c10::impl::GenericDict entry(c10::StringType::get(), c10::AnyType::get());
    entry.insert("step", steps_.to(torch::kCPU, torch::kFloat32));
    entry.insert("exp_avg", exp_avg_[i]);
    entry.insert("exp_avg_sq", exp_avg_sq_[i]);
    state.insert(static_cast<int64_t>(i), entry);
  }
  c10::impl::GenericDict group(c10::StringType::get(), c10::AnyType::get());
  group.insert("lr", options_.lr());
  group.insert("betas", c10::ivalue::Tuple::create({options_.beta1(), options_.beta2()}));
  group.insert("eps", options_.eps());
  group.insert("weight_decay", options_.weight_decay());
  group.insert("amsgrad", false);
  return optimizer_state_dict(state, group, params_.size());
}

void Adam::load_state_dict(const c10::IValue& value) {
  const auto dict = value.toGenericDict();
  const auto group = dict.at("param_groups").toList().get(0).toGenericDict();
  set_lr(group.at("lr").toDouble());
  for (const auto& entry : dict.at("state").toGenericDict()) {
    const auto i = static_cast<size_t>(entry.key().toInt());
    const auto s = entry.value().toGenericDict();
    if (i >= params_.size() || !s.at("exp_avg").toTensor().sizes().equals(params_[i].sizes()))
      throw std::runtime_error("meta optimizer state does not match the weight prediction network");
    exp_avg_[i] = s.at("exp_avg").toTensor().to(params_[i].device());
    exp_avg_sq_[i] = s.at("exp_avg_sq").toTensor().to(params_[i].device());
    const auto step = s.at("step");
    steps_.fill_(step.isTensor() ? step.toTensor().item<double>() : double(step.toInt()));
  }
}

}  // namespace l2w::train
