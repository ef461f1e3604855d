#include "l2w/runtime/mixed_precision.h"

#include <ATen/autocast_mode.h>

#include <stdexcept>

namespace l2w::runtime {

Amp parse_amp(const std::string& text) {
  if (text.empty()) return Amp::kOff;
  for (const auto amp : {Amp::kOff, Amp::kBf16, Amp::kFp16})
    if (text == amp_name(amp)) return amp;
  throw std::invalid_argument("'" + text + "' is not off, bf16 or fp16");
}

std::string amp_name(Amp amp) {
  switch (amp) {
    case Amp::kBf16:
      return "bf16";
    case Amp::kFp16:
      return "fp16";
    case Amp::kOff:
      break;
  }
  return "off";
}

AutocastGuard::AutocastGuard(Amp amp, const torch::Device& device) : device_type_(device.type()) {
  if (amp == Amp::kOff) return;
  active_ = true;
  was_enabled_ = at::autocast::is_autocast_enabled(device_type_);
  was_dtype_ = at::autocast::get_autocast_dtype(device_type_);
  at::autocast::set_autocast_dtype(device_type_, amp == Amp::kBf16 ? at::kBFloat16 : at::kHalf);
  at::autocast::set_autocast_enabled(device_type_, true);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // As torch.autocast: the cache of lower-precision weight copies lives for the outermost region.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_type_, was_enabled_);
  at::autocast::set_autocast_dtype(device_type_, was_dtype_);
}

LossScaler::LossScaler(bool enabled, double initial_scale, int64_t growth_interval)
    : enabled_(enabled), initial_scale_(initial_scale), growth_interval_(growth_interval) {}

void LossScaler::place_on(const torch::Device& device) {
  if (scale_.defined() && scale_.device() == device) return;
  const auto options = torch::TensorOptions(torch::kFloat32).device(device);
  scale_ = scale_.defined() ? scale_.to(device) : torch::full({}, initial_scale_, options);
  growth_tracker_ = growth_tracker_.defined() ? growth_tracker_.to(device)
                                              : torch::zeros({}, options.dtype(torch::kInt32));
  found_inf_ = torch::zeros({}, options);
}

double LossScaler::scale() const { return scale_.defined() ? scale_.item<double>() : (enabled_ ? initial_scale_ : 1.0); }

torch::Tensor LossScaler::scale(const torch::Tensor& loss) {
  if (!enabled_) return loss;
  place_on(loss.device());
  return loss * scale_;
}

torch::Tensor LossScaler::unscale_and_update(const std::vector<torch::Tensor>& params) {
  if (!enabled_) return {};
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return {};
  place_on(grads.front().device());
  found_inf_.zero_();
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, scale_.reciprocal());
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, 2.0, 0.5, growth_interval_);
  return found_inf_;
}

}  // namespace l2w::runtime
