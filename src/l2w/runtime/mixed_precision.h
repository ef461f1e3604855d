// Mixed precision (--amp): autocast regions, as torch.autocast, and fp16 loss scaling, as
// torch.amp.GradScaler. Parameters, optimizer state and the meta-gradient stay in float32.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace l2w::runtime {

enum class Amp { kOff, kBf16, kFp16 };

// "off" (or empty), "bf16", "fp16"; std::invalid_argument otherwise.
Amp parse_amp(const std::string& text);
std::string amp_name(Amp amp);

// Inside, the device's autocast runs convolutions and matrix products in the lower precision and keeps
// precision-sensitive operations in float32. Nothing happens for Amp::kOff.
class AutocastGuard {
 public:
  AutocastGuard(Amp amp, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType device_type_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_;
};

// Dynamic loss scaling for fp16: the loss is multiplied by a scale so that small gradients survive in
// half precision; a step whose gradients overflowed is skipped and the scale halved, and after
// `growth_interval` good steps it doubles. Disabled (a pass-through) for other precisions.
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double initial_scale = 65536.0, int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  torch::Tensor scale(const torch::Tensor& loss) const;
  // Divides the parameters' gradients by the scale. Returns whether every gradient is finite (the step
  // may be taken), and adjusts the scale accordingly. With scaling off: true, nothing touched.
  bool unscale_and_update(const std::vector<torch::Tensor>& params);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_;
  int64_t good_steps_ = 0;
};

}  // namespace l2w::runtime
