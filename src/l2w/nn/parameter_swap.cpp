#include "l2w/nn/parameter_swap.h"

#include <stdexcept>
#include <unordered_map>

namespace l2w::nn {

ParameterSwap::ParameterSwap(torch::nn::Module& root, const std::vector<torch::Tensor>& replacements,
                             bool private_buffers) {
  const auto params = root.parameters();
  if (params.size() != replacements.size())
    throw std::logic_error("parameter swap: " + std::to_string(replacements.size()) + " tensors for " +
                           std::to_string(params.size()) + " parameters");
  std::unordered_map<const void*, size_t> index;
  for (size_t i = 0; i < params.size(); ++i) index[params[i].unsafeGetTensorImpl()] = i;

  auto swap_param = [&](torch::Tensor& member) {
    if (!member.defined()) return;
    saved_.emplace_back(&member, member);
    member = replacements.at(index.at(member.unsafeGetTensorImpl()));
  };
  auto swap_buffer = [&](torch::Tensor& member) {
    if (!member.defined() || !private_buffers) return;
    saved_.emplace_back(&member, member);
    member = member.clone();
  };
  size_t swapped = 0;
  for (const auto& module : root.modules(/*include_self=*/true)) {
    if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(module.get())) {
      swap_param(conv->weight);
      swap_param(conv->bias);
    } else if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(module.get())) {
      swap_param(linear->weight);
      swap_param(linear->bias);
    } else if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(module.get())) {
      swap_param(bn->weight);
      swap_param(bn->bias);
      swap_buffer(bn->running_mean);
      swap_buffer(bn->running_var);
      swap_buffer(bn->num_batches_tracked);
    } else if (!module->parameters(/*recurse=*/false).empty()) {
      throw std::logic_error("parameter swap: layer type " + module->name() + " is not supported");
    } else {
      continue;
    }
    swapped += module->parameters(/*recurse=*/false).size();
  }
  if (swapped != params.size()) throw std::logic_error("parameter swap: not every parameter was reached");
}

ParameterSwap::~ParameterSwap() {
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) *it->first = it->second;
}

}  // namespace l2w::nn
