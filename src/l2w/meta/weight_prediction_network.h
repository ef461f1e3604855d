// The weight prediction network (WPN, docs/algorithm.md): per-sample, per-exit loss weights from each sample's
// per-exit losses and/or confidences.
#pragma once

#include <string>

#include <torch/torch.h>

namespace l2w::meta {

enum class WpnInput { kLoss, kConfidence, kBoth };
// What the tanh outputs are centred over before scaling: each exit's batch mean (row), each sample's
// mean over its exits (col), or the mean of all entries (mat).
enum class Constraint { kRow, kCol, kMat };

struct WpnOptions {
  explicit WpnOptions(int64_t num_exits) : num_exits_(num_exits) {}
  TORCH_ARG(int64_t, num_exits);
  TORCH_ARG(WpnInput, input) = WpnInput::kLoss;
  TORCH_ARG(int64_t, hidden_size) = 500;
  TORCH_ARG(int64_t, num_layers) = 1;
  TORCH_ARG(Constraint, constraint) = Constraint::kCol;
  TORCH_ARG(double, epsilon) = 0.8;
};

class WeightPredictionNetworkImpl : public torch::nn::Module {
 public:
  explicit WeightPredictionNetworkImpl(const WpnOptions& options);

  // W = 1 + epsilon · centre(tanh(MLP(input))), an [n, K] tensor. The inputs are detached here.
  torch::Tensor forward(const torch::Tensor& losses, const torch::Tensor& confidences);

  WpnOptions options;
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(WeightPredictionNetwork);

}  // namespace l2w::meta
