// A functional call over a module's own forward: for as long as a ParameterSwap lives, the module's
// layers compute with other tensors in place of their parameters. The L2W pseudo network is the real
// network run this way: one definition of each network (docs/algorithm.md, "The meta step").
//
// Both guards below mutate the module they are given: while one lives, no other thread may use that
// module (one thread at a time per module, as with any LibTorch module being trained).
#pragma once

#include <utility>
#include <vector>

#include <torch/torch.h>

namespace l2w::nn {

class ParameterSwap {
 public:
  // `replacements[i]` stands in for `root.parameters()[i]`. Every layer holding parameters must be a
  // Conv2d, Linear or BatchNorm2d; anything else is a logic error (it would silently compute with the
  // old parameters). Everything is checked before anything is replaced: when the constructor throws,
  // the module is as it was.
  ParameterSwap(torch::nn::Module& root, const std::vector<torch::Tensor>& replacements);
  ~ParameterSwap();
  ParameterSwap(const ParameterSwap&) = delete;
  ParameterSwap& operator=(const ParameterSwap&) = delete;

 private:
  std::vector<std::pair<torch::Tensor*, torch::Tensor>> saved_;  // member, original value
};

// For as long as it lives, the module's BatchNorm2d layers keep their running statistics in private
// copies, so that a forward pass in train mode leaves the real statistics as they were.
class PrivateBatchNormStatistics {
 public:
  explicit PrivateBatchNormStatistics(torch::nn::Module& root);
  ~PrivateBatchNormStatistics();
  PrivateBatchNormStatistics(const PrivateBatchNormStatistics&) = delete;
  PrivateBatchNormStatistics& operator=(const PrivateBatchNormStatistics&) = delete;

 private:
  std::vector<std::pair<torch::Tensor*, torch::Tensor>> saved_;  // member, original value
};

}  // namespace l2w::nn
