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
// `growth_interval` good steps it doubles. The scale, the count of good steps and the overflow flag live
// on the device (LibTorch's _amp_* kernels, as torch.amp.GradScaler's), so that nothing waits for the
// host: the optimizer skips an overflowed step on the device. Disabled (a pass-through) for other precisions.
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double initial_scale = 65536.0, int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  // The current scale, read from the device (for reports and tests).
  double scale() const;
  torch::Tensor scale(const torch::Tensor& loss);
  // Divides the parameters' gradients by the scale and adjusts the scale. Returns a 0-dim float32
  // device tensor: 1 where a gradient overflowed (the step must be skipped), 0 where it may be taken.
  // With scaling off: undefined, nothing touched.
  torch::Tensor unscale_and_update(const std::vector<torch::Tensor>& params);

 private:
  void place_on(const torch::Device& device);

  bool enabled_;
  double initial_scale_;
  int64_t growth_interval_;
  torch::Tensor scale_;           // float32 0-dim
  torch::Tensor growth_tracker_;  // int32 0-dim: good steps since the scale last changed
  torch::Tensor found_inf_;       // float32 0-dim
};

}  // namespace l2w::runtime
