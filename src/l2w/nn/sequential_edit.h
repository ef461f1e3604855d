// Editing a network's Sequentials in place (BatchNorm folding, the 1x1 products, the batch-1 layouts): the
// module tree and its names stay, so the network's forward code and state_dict keys are unchanged.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

namespace l2w::nn {

// Every Sequential under `root`, `root` included, each once.
inline std::vector<std::shared_ptr<torch::nn::SequentialImpl>> sequentials_under(torch::nn::Module& root) {
  std::vector<std::shared_ptr<torch::nn::SequentialImpl>> found;
  for (const auto& module : root.modules())
    if (auto seq = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(module)) found.push_back(std::move(seq));
  return found;
}

// Puts `replacement` in child `index`'s place: both the registered child (what parameters() and
// state_dict see) and the entry that forward runs, which a Sequential keeps separately.
template <typename ModuleHolder>
void replace_child(torch::nn::SequentialImpl& seq, size_t index, const ModuleHolder& replacement) {
  seq.replace_module(seq.named_children().keys().at(index), replacement.ptr());
  *(seq.begin() + static_cast<std::ptrdiff_t>(index)) = torch::nn::AnyModule(replacement);
}

// The options of `conv`, for a module that takes its place with the same parameters.
inline torch::nn::Conv2dOptions options_of(const torch::nn::Conv2dImpl& conv) {
  const auto& o = conv.options;
  return torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
      .stride(o.stride())
      .padding(o.padding())
      .dilation(o.dilation())
      .groups(o.groups())
      .bias(o.bias())
      .padding_mode(o.padding_mode());
}

// Makes `replacement`'s weight and bias (made by its constructor with the same shapes) share `conv`'s
// storage, with the same requires_grad, and puts it in `conv`'s mode.
inline void take_parameters_of(const torch::nn::Conv2dImpl& conv, torch::nn::Conv2dImpl& replacement) {
  torch::NoGradGuard no_grad;
  replacement.weight.set_data(conv.weight);
  replacement.weight.set_requires_grad(conv.weight.requires_grad());
  if (replacement.bias.defined()) {
    replacement.bias.set_data(conv.bias);
    replacement.bias.set_requires_grad(conv.bias.requires_grad());
  }
  replacement.train(conv.is_training());
}

}  // namespace l2w::nn
