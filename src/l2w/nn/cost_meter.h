// Counting the cost of a forward pass (docs/algorithm.md, "Counting cost"): MUL-ADDs and parameters, layer by layer.
#pragma once

#include <cstdint>
#include <functional>

#include <torch/torch.h>

namespace l2w::nn {

struct Cost {
  int64_t muladds = 0;
  int64_t params = 0;
};

// While alive, every layer run through `run` on this thread is charged to this meter. Models call `run`
// for their Sequentials and Linears, so the same forward code both computes and counts.
class CostMeter {
 public:
  CostMeter();
  ~CostMeter();
  CostMeter(const CostMeter&) = delete;
  CostMeter& operator=(const CostMeter&) = delete;

  const Cost& total() const { return total_; }
  // The meter of this thread, or nullptr when nothing is being counted.
  static CostMeter* active();
  // Charges one leaf layer given its input and output (batch of one).
  void charge(const torch::nn::Module& layer, const torch::Tensor& in, const torch::Tensor& out);
  // Also shows each leaf layer charged, and the shape of its input, to `observer` (infer/conv_layouts.h
  // learns each convolution's input shape this way).
  using Observer = std::function<void(const torch::nn::Module& layer, const torch::IntArrayRef input_shape)>;
  void observe(Observer observer) { observer_ = std::move(observer); }

 private:
  Observer observer_;
  Cost total_;
  CostMeter* previous_;
};

// Forward through a Sequential; with an active meter, layer by layer so that each leaf is charged.
torch::Tensor run(const torch::nn::Sequential& layers, torch::Tensor x);
// Forward through a Linear, charged to the active meter if any; the input is cast to the Linear's dtype.
torch::Tensor run(const torch::nn::Linear& layer, const torch::Tensor& x);

}  // namespace l2w::nn
