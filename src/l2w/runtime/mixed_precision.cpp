#include "l2w/runtime/mixed_precision.h"

#include <ATen/autocast_mode.h>

#include <stdexcept>

namespace l2w::runtime {

Amp parse_amp(const std::string& text) {
  if (text.empty() || text == "off") return Amp::kOff;
  if (text == "bf16") return Amp::kBf16;
  if (text == "fp16") return Amp::kFp16;
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
    : enabled_(enabled), scale_(enabled ? initial_scale : 1.0), growth_interval_(growth_interval) {}

torch::Tensor LossScaler::scale(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

bool LossScaler::unscale_and_update(const std::vector<torch::Tensor>& params) {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> finite;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    p.mutable_grad().mul_(1.0 / scale_);
    finite.push_back(p.grad().isfinite().all());
  }
  // The one host-device synchronisation of fp16 training, as GradScaler.step: whether to step.
  const bool ok = finite.empty() || torch::stack(finite).all().item<bool>();
  if (!ok) {
    scale_ *= 0.5;
    good_steps_ = 0;
  } else if (++good_steps_ == growth_interval_) {
    scale_ *= 2.0;
    good_steps_ = 0;
  }
  return ok;
}

}  // namespace l2w::runtime
