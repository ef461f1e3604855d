#include "l2w/nn/conv_blocks.h"

#include <algorithm>

#include "l2w/nn/channel_concat.h"
#include "l2w/nn/cost_meter.h"

namespace l2w::nn {
namespace {

// Appends conv (no bias) + BatchNorm + ReLU to `seq`.
void append_cbr(torch::nn::Sequential& seq, int64_t in, int64_t out, int64_t kernel, int64_t stride,
                int64_t padding) {
  seq->push_back(torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
  seq->push_back(torch::nn::BatchNorm2d(out));
  seq->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
}

}  // namespace

ConvBasicImpl::ConvBasicImpl(const ConvBasicOptions& o) {
  net = torch::nn::Sequential();
  append_cbr(net, o.in_channels(), o.out_channels(), o.kernel(), o.stride(), o.padding());
  register_module("net", net);
}

torch::Tensor ConvBasicImpl::forward(const torch::Tensor& x) { return run(net, x); }

ConvBNImpl::ConvBNImpl(const ConvBNOptions& o) {
  net = torch::nn::Sequential();
  int64_t inner = o.in_channels();
  if (o.bottleneck()) {
    inner = std::min(inner, o.bottleneck_width() * o.out_channels());
    append_cbr(net, o.in_channels(), inner, 1, 1, 0);
  }
  append_cbr(net, inner, o.out_channels(), 3, o.type() == ConvType::kDown ? 2 : 1, 1);
  register_module("net", net);
}

torch::Tensor ConvBNImpl::forward(const torch::Tensor& x) { return run(net, x); }

ConvNormalImpl::ConvNormalImpl(int64_t in_channels, int64_t out_channels, bool bottleneck,
                               int64_t bottleneck_width)
    : conv_normal(ConvBNOptions(in_channels, out_channels)
                      .type(ConvType::kNormal)
                      .bottleneck(bottleneck)
                      .bottleneck_width(bottleneck_width)) {
  register_module("conv_normal", conv_normal);
}

torch::Tensor ConvNormalImpl::forward(const torch::Tensor& x) {
  return append_channels(x, {conv_normal(x)});
}

ConvDownNormalImpl::ConvDownNormalImpl(int64_t in_finer, int64_t in_same, int64_t out_channels,
                                       bool bottleneck, int64_t bottleneck_width_finer,
                                       int64_t bottleneck_width_same)
    : conv_down(ConvBNOptions(in_finer, out_channels / 2)
                    .type(ConvType::kDown)
                    .bottleneck(bottleneck)
                    .bottleneck_width(bottleneck_width_finer)),
      conv_normal(ConvBNOptions(in_same, out_channels / 2)
                      .type(ConvType::kNormal)
                      .bottleneck(bottleneck)
                      .bottleneck_width(bottleneck_width_same)) {
  register_module("conv_down", conv_down);
  register_module("conv_normal", conv_normal);
}

torch::Tensor ConvDownNormalImpl::forward(const torch::Tensor& finer, const torch::Tensor& same) {
  return append_channels(same, {conv_down(finer), conv_normal(same)});
}

}  // namespace l2w::nn
