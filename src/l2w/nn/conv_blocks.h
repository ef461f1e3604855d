// The convolutional building blocks of MSDNet (docs/algorithm.md, "MSDNet"). Member names follow the reference's
// state_dict keys (`net`, `conv_normal`, `conv_down`) so that its checkpoints load.
#pragma once

#include <torch/torch.h>

namespace l2w::nn {

// conv (no bias), BatchNorm, ReLU.
struct ConvBasicOptions {
  ConvBasicOptions(int64_t in, int64_t out) : in_channels_(in), out_channels_(out) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel) = 3;
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 1;
};

class ConvBasicImpl : public torch::nn::Module {
 public:
  explicit ConvBasicImpl(const ConvBasicOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(ConvBasic);

enum class ConvType { kNormal, kDown };

// Optional 1x1 bottleneck CBR, then a 3x3 CBR of stride 1 (normal) or 2 (down).
struct ConvBNOptions {
  ConvBNOptions(int64_t in, int64_t out) : in_channels_(in), out_channels_(out) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(ConvType, type) = ConvType::kNormal;
  TORCH_ARG(bool, bottleneck) = true;
  TORCH_ARG(int64_t, bottleneck_width) = 1;
};

class ConvBNImpl : public torch::nn::Module {
 public:
  explicit ConvBNImpl(const ConvBNOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(ConvBN);

// out = [x, ConvBN_normal(x)] along channels.
class ConvNormalImpl : public torch::nn::Module {
 public:
  ConvNormalImpl(int64_t in_channels, int64_t out_channels, bool bottleneck, int64_t bottleneck_width);
  torch::Tensor forward(const torch::Tensor& x);

  ConvBN conv_normal{nullptr};
};
TORCH_MODULE(ConvNormal);

// Joins a finer scale into the next coarser one: out = [x2, ConvBN_down(x1), ConvBN_normal(x2)].
class ConvDownNormalImpl : public torch::nn::Module {
 public:
  ConvDownNormalImpl(int64_t in_finer, int64_t in_same, int64_t out_channels, bool bottleneck,
                     int64_t bottleneck_width_finer, int64_t bottleneck_width_same);
  torch::Tensor forward(const torch::Tensor& finer, const torch::Tensor& same);

  ConvBN conv_down{nullptr};
  ConvBN conv_normal{nullptr};
};
TORCH_MODULE(ConvDownNormal);

}  // namespace l2w::nn
