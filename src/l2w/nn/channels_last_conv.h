// A convolution that, for one image at a time, runs in channels_last and hands its result back in NCHW.
// At batch 1 which layout a convolution runs faster in depends on its shape (a 16->32 stride-2 3x3 layer on
// 32x32: 31 us in channels_last, 82 us in NCHW; the first layer, 3->16: 86 against 19 us;
// docs/inference.md, "Batch 1"), so the inference form can give each layer its own (infer/conv_layouts.h).
#pragma once

#include <torch/torch.h>

namespace l2w::nn {

// A Conv2d (same options and parameters: it shares `conv`'s) whose forward, for a CPU batch of one
// NCHW-contiguous image, converts it to channels_last, convolves with a channels_last copy of the weight
// and returns the result NCHW-contiguous; every other input goes to the convolution as it is.
class ChannelsLastConvImpl : public torch::nn::Conv2dImpl {
 public:
  explicit ChannelsLastConvImpl(const torch::nn::Conv2dImpl& conv);
  torch::Tensor forward(const torch::Tensor& x);
  // Takes a new copy of the weight (after its values or dtype changed).
  void refresh();

 private:
  torch::Tensor weight_channels_last_;  // not registered: the state_dict keeps the shared weight
};
TORCH_MODULE(ChannelsLastConv);

// Whether one image `x` goes through the channels_last path.
bool takes_channels_last_path(const torch::Tensor& x);

}  // namespace l2w::nn
