// A 1x1 convolution (stride 1, no padding, one group) computed as the matrix product it is: each image's
// [C, H*W] pixels multiplied by the [O, C] weight. On the CPU in NCHW, oneDNN runs these convolutions with
// few channels 3-7x slower than the same product (MSDNet's bottlenecks and transitions are mostly such
// layers; docs/inference.md, "1x1 convolutions as matrix products"), so the inference form uses this.
#pragma once

#include <torch/torch.h>

namespace l2w::nn {

// A Conv2d (same options, parameters and cost) whose forward is the matrix product for a CPU input whose
// images are each NCHW-contiguous; any other input (channels_last, a GPU) goes to the convolution, which is
// fast there.
class PointwiseConvImpl : public torch::nn::Conv2dImpl {
 public:
  // Shares `conv`'s weight and bias (their storage).
  explicit PointwiseConvImpl(const torch::nn::Conv2dImpl& conv);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(PointwiseConv);

// Whether `conv` is a 1x1 convolution that PointwiseConv computes: stride 1, no padding, no dilation, one group.
bool is_pointwise(const torch::nn::Conv2dImpl& conv);

// Replaces, in every Sequential under `root`, each pointwise Conv2d by a PointwiseConv with its
// parameters; the module tree and its names stay. Returns the number replaced.
int64_t use_pointwise_convs(torch::nn::Module& root);

}  // namespace l2w::nn
