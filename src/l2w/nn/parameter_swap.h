// A functional call over a module's own forward: for as long as a ParameterSwap lives, the module's
// layers compute with other tensors in place of their parameters (and, optionally, with copies of
// their BatchNorm buffers, so that running statistics updated in train mode are discarded). The L2W
// pseudo network is the real network run this way: one definition of each network.
#pragma once

#include <vector>

#include <torch/torch.h>

namespace l2w::nn {

class ParameterSwap {
 public:
  // `replacements[i]` stands in for `root.parameters()[i]`. With `private_buffers`, BatchNorm running
  // statistics are swapped for clones. Every layer holding parameters must be a Conv2d, Linear or
  // BatchNorm2d; anything else is a logic error (it would silently compute with the old parameters).
  ParameterSwap(torch::nn::Module& root, const std::vector<torch::Tensor>& replacements, bool private_buffers);
  ~ParameterSwap();
  ParameterSwap(const ParameterSwap&) = delete;
  ParameterSwap& operator=(const ParameterSwap&) = delete;

 private:
  std::vector<std::pair<torch::Tensor*, torch::Tensor>> saved_;  // member, original value
};

}  // namespace l2w::nn
