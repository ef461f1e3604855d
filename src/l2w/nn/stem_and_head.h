// What MSDNet and RANet share around their dense blocks: the stem that first sees the image, the
// exit head and the rule that compresses channel counts. Both references build these the same way,
// and their state_dict keys depend on it (a Sequential stem on ImageNet, a ConvBasic otherwise).
#pragma once

#include <memory>

#include <torch/torch.h>

#include "l2w/nn/classifier_module.h"

namespace l2w::nn {

// floor(factor · channels): how the references size compressed and reduced layers.
int64_t floor_times(double factor, int64_t channels);

// The first layer: on ImageNet a 7x7/2 conv, BatchNorm, ReLU and a 3x3/2 max-pool (a Sequential);
// otherwise a 3x3 ConvBasic.
std::shared_ptr<torch::nn::Module> stem(int64_t in_channels, int64_t out_channels, bool imagenet);
// The computation of a stem, or of any ConvBasic: the Sequential to run.
torch::nn::Sequential stem_sequence(const std::shared_ptr<torch::nn::Module>& layer);

// An exit on `channels` features: 128 hidden channels on small images, `channels` on ImageNet.
ClassifierModule exit_head(int64_t channels, int64_t num_classes, bool imagenet);

}  // namespace l2w::nn
