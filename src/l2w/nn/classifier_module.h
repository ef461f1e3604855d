// An exit of MSDNet and RANet: two stride-2 ConvBasics and a 2x2 average pool on the exit's features,
// then a Linear. Member names (`m`, `linear`) follow the references' state_dict keys.
#pragma once

#include <torch/torch.h>

namespace l2w::nn {

class ClassifierModuleImpl : public torch::nn::Module {
 public:
  // `width`: 128 on 32x32 and 28x28 data, the input's own width on ImageNet.
  ClassifierModuleImpl(int64_t in_channels, int64_t width, int64_t num_classes);
  torch::Tensor forward(const torch::Tensor& x);
  // What the Linear reads: the pooled features, flattened to [N, width].
  torch::Tensor features(const torch::Tensor& x);

  torch::nn::Sequential m{nullptr};
  torch::nn::Linear linear{nullptr};
};
TORCH_MODULE(ClassifierModule);

}  // namespace l2w::nn
