#include "l2w/meta/weight_prediction_network.h"

#include <stdexcept>

namespace l2w::meta {

std::string wpn_input_name(WpnInput input) {
  return input == WpnInput::kLoss ? "loss" : input == WpnInput::kConfidence ? "conf" : "both";
}

std::string constraint_name(Constraint constraint) {
  return constraint == Constraint::kRow ? "row" : constraint == Constraint::kCol ? "col" : "mat";
}

HiddenLayerImpl::HiddenLayerImpl(int64_t in, int64_t out) : fc(register_module("fc", torch::nn::Linear(in, out))) {}

WeightPredictionNetworkImpl::WeightPredictionNetworkImpl(const WpnOptions& o) : options(o) {
  const int64_t in = o.input() == WpnInput::kBoth ? 2 * o.num_exits() : o.num_exits();
  first_hidden_layer = register_module("first_hidden_layer", HiddenLayer(in, o.hidden_size()));
  rest_hidden_layers = register_module("rest_hidden_layers", torch::nn::ModuleList());
  for (int64_t i = 1; i < o.num_layers(); ++i) rest_hidden_layers->push_back(HiddenLayer(o.hidden_size(), o.hidden_size()));
  output_layer = register_module("output_layer", torch::nn::Linear(o.hidden_size(), o.num_exits()));
}

torch::Tensor WeightPredictionNetworkImpl::forward(const torch::Tensor& losses, const torch::Tensor& confidences) {
  torch::Tensor h = first_hidden_layer->forward(input_of(losses, confidences));
  for (const auto& layer : *rest_hidden_layers) h = layer->as<HiddenLayerImpl>()->forward(h);
  return 1.0 + options.epsilon() * centre(torch::tanh(output_layer->forward(h)));
}

torch::Tensor WeightPredictionNetworkImpl::input_of(const torch::Tensor& losses, const torch::Tensor& confidences) const {
  switch (options.input()) {
    case WpnInput::kLoss: return losses.detach();
    case WpnInput::kConfidence: return confidences.detach();
    case WpnInput::kBoth: return torch::cat({losses.detach(), confidences.detach()}, 1);
  }
  throw std::logic_error("unknown WPN input");
}

torch::Tensor WeightPredictionNetworkImpl::centre(const torch::Tensor& raw) const {
  switch (options.constraint()) {
    case Constraint::kRow: return raw - raw.mean(0, /*keepdim=*/true);
    case Constraint::kCol: return raw - raw.mean(1, /*keepdim=*/true);
    case Constraint::kMat: return raw - raw.mean();
  }
  throw std::logic_error("unknown WPN constraint");
}

}  // namespace l2w::meta
