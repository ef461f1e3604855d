#include "l2w/models/multi_exit_network.h"

#include <stdexcept>

#include "l2w/nn/channel_concat.h"
#include "l2w/nn/gradient_scale.h"

namespace l2w::models {

std::vector<torch::Tensor> MultiExitNetworkImpl::forward(const torch::Tensor& images) {
  nn::ChannelArena arena;  // without autograd, feature maps grow across blocks in place
  std::vector<torch::Tensor> logits;
  Features features{images};
  const int64_t n = num_exits();
  for (int64_t k = 0; k < n; ++k) {
    features = run_block(k, features);
    if (gradient_equilibrium_) features.back() = nn::scale_gradient(features.back(), 1.0 / double(n - k));
    logits.push_back(run_exit(k, features));
    if (gradient_equilibrium_) features.back() = nn::scale_gradient(features.back(), double(n - k - 1));
  }
  return logits;
}

torch::Tensor MultiExitNetworkImpl::exit_features(int64_t, const Features&) {
  throw std::logic_error(arch() + " does not offer its exits' features");
}

int64_t MultiExitNetworkImpl::exit_feature_width(int64_t) const {
  throw std::logic_error(arch() + " does not offer its exits' features");
}

torch::Tensor MultiExitNetworkImpl::exit_logits_from_features(int64_t, const torch::Tensor&) {
  throw std::logic_error(arch() + " does not offer its exits' features");
}

void MultiExitNetworkImpl::set_gradient_equilibrium(bool on) {
  if (on && !supports_gradient_equilibrium())
    throw std::invalid_argument("gradient equilibrium needs exits that read one scale, as MSDNet's do; " + arch() +
                                "'s later blocks also fuse every layer's features (docs/algorithm.md)");
  gradient_equilibrium_ = on;
}

}  // namespace l2w::models
