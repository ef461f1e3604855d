#include "l2w/models/multi_exit_network.h"

#include <map>
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

namespace {

// A dtype as torch spells it in Python ("torch.float32"), which is how users write it.
std::string dtype_name(c10::ScalarType t) {
  static const std::map<c10::ScalarType, std::string> names{
      {c10::kFloat, "float32"}, {c10::kDouble, "float64"}, {c10::kHalf, "float16"}, {c10::kBFloat16, "bfloat16"},
      {c10::kLong, "int64"},    {c10::kInt, "int32"},      {c10::kByte, "uint8"},   {c10::kBool, "bool"}};
  const auto found = names.find(t);
  return "torch." + (found != names.end() ? found->second : std::string(c10::toString(t)));
}

// The first parameter depth first, without listing them all (a batch-1 forward checks it every call).
torch::Tensor first_parameter(const torch::nn::Module& module) {
  const auto own = module.parameters(/*recurse=*/false);
  if (!own.empty()) return own.front();
  for (const auto& child : module.children()) {
    auto found = first_parameter(*child);
    if (found.defined()) return found;
  }
  return {};
}

}  // namespace

void check_images(const MultiExitNetworkImpl& net, const torch::Tensor& images) {
  if (images.dim() != 4)
    throw std::invalid_argument("images: expected [N, C, H, W], got " + std::to_string(images.dim()) + " dimensions " +
                                c10::str(images.sizes()));
  if (images.size(0) == 0) throw std::invalid_argument("images: an empty batch (N = 0)");
  const auto first = first_parameter(net);
  if (!first.defined()) return;
  const auto want = first.scalar_type();
  const auto got = images.scalar_type();
  if (got != want)
    throw std::invalid_argument("images: " + dtype_name(got) + " but the network's parameters are " + dtype_name(want) +
                                ": convert the images to " + dtype_name(want) + " or the network to " + dtype_name(got));
  if (images.device() != first.device())
    throw std::invalid_argument("images: on " + images.device().str() + " but the network is on " +
                                first.device().str() + ": move one of them");
}

}  // namespace l2w::models
