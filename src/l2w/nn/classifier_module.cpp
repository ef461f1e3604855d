#include "l2w/nn/classifier_module.h"

#include "l2w/nn/conv_blocks.h"
#include "l2w/nn/cost_meter.h"

namespace l2w::nn {

ClassifierModuleImpl::ClassifierModuleImpl(int64_t in_channels, int64_t width, int64_t num_classes) {
  m = register_module("m", torch::nn::Sequential(ConvBasic(ConvBasicOptions(in_channels, width).stride(2)),
                                                 ConvBasic(ConvBasicOptions(width, width).stride(2)),
                                                 torch::nn::AvgPool2d(2)));
  linear = register_module("linear", torch::nn::Linear(width, num_classes));
}

torch::Tensor ClassifierModuleImpl::forward(const torch::Tensor& x) { return run(linear, features(x)); }

torch::Tensor ClassifierModuleImpl::features(const torch::Tensor& x) {
  // flatten, not view({N, -1}): a trace (ONNX export) then keeps the batch size free.
  return run(m, x).flatten(1);
}

}  // namespace l2w::nn
