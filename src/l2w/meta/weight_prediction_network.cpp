#include "l2w/meta/weight_prediction_network.h"

namespace l2w::meta {

WeightPredictionNetworkImpl::WeightPredictionNetworkImpl(const WpnOptions& o) : options(o) {
  const int64_t in = o.input() == WpnInput::kBoth ? 2 * o.num_exits() : o.num_exits();
  net = torch::nn::Sequential();
  net->push_back(torch::nn::Linear(in, o.hidden_size()));
  net->push_back(torch::nn::ReLU());
  for (int64_t i = 1; i < o.num_layers(); ++i) {
    net->push_back(torch::nn::Linear(o.hidden_size(), o.hidden_size()));
    net->push_back(torch::nn::ReLU());
  }
  net->push_back(torch::nn::Linear(o.hidden_size(), o.num_exits()));
  net->push_back(torch::nn::Tanh());
  register_module("net", net);
}

torch::Tensor WeightPredictionNetworkImpl::forward(const torch::Tensor& losses, const torch::Tensor& confidences) {
  torch::Tensor input;
  switch (options.input()) {
    case WpnInput::kLoss: input = losses.detach(); break;
    case WpnInput::kConfidence: input = confidences.detach(); break;
    case WpnInput::kBoth: input = torch::cat({losses.detach(), confidences.detach()}, 1); break;
  }
  const torch::Tensor raw = net->forward(input);
  torch::Tensor centred;
  switch (options.constraint()) {
    case Constraint::kRow: centred = raw - raw.mean(0, /*keepdim=*/true); break;
    case Constraint::kCol: centred = raw - raw.mean(1, /*keepdim=*/true); break;
    case Constraint::kMat: centred = raw - raw.mean(); break;
  }
  return 1.0 + options.epsilon() * centred;
}

}  // namespace l2w::meta
