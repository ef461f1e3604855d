#include "l2w/nn/stem_and_head.h"

#include <cmath>
#include <stdexcept>

#include "l2w/nn/conv_blocks.h"

namespace l2w::nn {

int64_t floor_times(double factor, int64_t channels) {
  return static_cast<int64_t>(std::floor(factor * double(channels)));
}

std::shared_ptr<torch::nn::Module> stem(int64_t in_channels, int64_t out_channels, bool imagenet) {
  if (!imagenet) return ConvBasic(ConvBasicOptions(in_channels, out_channels)).ptr();
  return torch::nn::Sequential(
             torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, 7).stride(2).padding(3)),
             torch::nn::BatchNorm2d(out_channels), torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)),
             torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)))
      .ptr();
}

torch::nn::Sequential stem_sequence(const std::shared_ptr<torch::nn::Module>& layer) {
  if (auto conv = std::dynamic_pointer_cast<ConvBasicImpl>(layer)) return conv->net;
  if (auto sequence = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(layer)) return torch::nn::Sequential(sequence);
  throw std::logic_error("stem_sequence: " + layer->name() + " is neither a stem nor a ConvBasic");
}

ClassifierModule exit_head(int64_t channels, int64_t num_classes, bool imagenet) {
  return ClassifierModule(channels, imagenet ? channels : 128, num_classes);
}

}  // namespace l2w::nn
