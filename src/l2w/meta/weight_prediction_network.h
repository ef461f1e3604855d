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
// The reference's names: "loss", "conf", "both"; "row", "col", "mat".
std::string wpn_input_name(WpnInput input);
std::string constraint_name(Constraint constraint);

struct WpnOptions {
  explicit WpnOptions(int64_t num_exits) : num_exits_(num_exits) {}
  TORCH_ARG(int64_t, num_exits);
  TORCH_ARG(WpnInput, input) = WpnInput::kLoss;
  TORCH_ARG(int64_t, hidden_size) = 500;
  TORCH_ARG(int64_t, num_layers) = 1;
  TORCH_ARG(Constraint, constraint) = Constraint::kCol;
  TORCH_ARG(double, epsilon) = 0.8;
};

// Linear then ReLU; the Linear is registered as `fc`, the reference's name for it.
class HiddenLayerImpl : public torch::nn::Module {
 public:
  HiddenLayerImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x) { return torch::relu(fc->forward(x)); }

  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(HiddenLayer);

// Registered under the reference's names (`first_hidden_layer.fc.*`, `rest_hidden_layers.J.fc.*`,
// `output_layer.*`), in that order, so that meta_state_dict and the Adam state in meta_optimizer move between
// l2w and the reference unchanged.
class WeightPredictionNetworkImpl : public torch::nn::Module {
 public:
  explicit WeightPredictionNetworkImpl(const WpnOptions& options);

  // W = 1 + epsilon · centre(tanh(MLP(input))), an [n, K] tensor. The inputs are detached here.
  torch::Tensor forward(const torch::Tensor& losses, const torch::Tensor& confidences);

  WpnOptions options;
  HiddenLayer first_hidden_layer{nullptr};
  torch::nn::ModuleList rest_hidden_layers{nullptr};
  torch::nn::Linear output_layer{nullptr};

 private:
  torch::Tensor input_of(const torch::Tensor& losses, const torch::Tensor& confidences) const;
  torch::Tensor centre(const torch::Tensor& raw) const;
};
TORCH_MODULE(WeightPredictionNetwork);

}  // namespace l2w::meta
