#include "l2w/models/msdnet.h"

#include <cmath>
#include <stdexcept>

#include "l2w/nn/channel_concat.h"
#include "l2w/nn/classifier_module.h"
#include "l2w/nn/conv_blocks.h"
#include "l2w/nn/cost_meter.h"
#include "l2w/nn/stem_and_head.h"

namespace l2w::models {

std::string step_mode_name(StepMode mode) { return mode == StepMode::kEven ? "even" : "lin_grow"; }
std::string prune_name(Prune prune) { return prune == Prune::kMax ? "max" : "min"; }

namespace {

using nn::ConvBasic;
using nn::ConvBasicOptions;
using nn::ClassifierModuleImpl;

// Block 1's first stage: the stem at the finest scale, then a stride-2 ConvBasic per coarser scale.
class FirstLayerImpl : public ScaleStage {
 public:
  FirstLayerImpl(int64_t in_channels, int64_t n_channels, const MSDNetOptions& o) {
    layers = register_module("layers", torch::nn::ModuleList());
    const auto& gr = o.gr_factor();
    layers->push_back(nn::stem(in_channels, n_channels * gr[0], o.imagenet()));
    for (size_t s = 1; s < gr.size(); ++s)
      layers->push_back(ConvBasic(ConvBasicOptions(n_channels * gr[s - 1], n_channels * gr[s]).stride(2)));
  }

  Features forward(const Features& x) override {
    Features out;
    torch::Tensor h = x.at(0);
    for (const auto& layer : *layers) out.push_back(h = nn::run(nn::stem_sequence(layer), h));
    return out;
  }

  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(FirstLayer);

// One dense layer over the remaining scales: adds `growth * gr_factor[s]` channels at each output scale
// and drops the finest scales beyond `out_scales`.
class MSDNLayerImpl : public ScaleStage {
 public:
  MSDNLayerImpl(int64_t n_in, int64_t growth, int64_t in_scales, int64_t out_scales, const MSDNetOptions& o)
      : discard_(in_scales - out_scales) {
    layers = register_module("layers", torch::nn::ModuleList());
    const auto& gr = o.gr_factor();
    const auto& bn = o.bn_factor();
    const int64_t n_scales = static_cast<int64_t>(gr.size());
    const int64_t offset = n_scales - out_scales;
    for (int64_t s = offset; s < n_scales; ++s) {
      if (s == offset && discard_ == 0) {
        layers->push_back(nn::ConvNormal(n_in * gr[s], growth * gr[s], o.bottleneck(), bn[s]));
      } else {
        layers->push_back(nn::ConvDownNormal(n_in * gr[s - 1], n_in * gr[s], growth * gr[s], o.bottleneck(),
                                             bn[s - 1], bn[s]));
      }
    }
  }

  // `x` holds the in_scales remaining scales, finest first. Down-sampling output d joins inputs d and d+1
  // both when the finest input is discarded and when the first output is a ConvNormal of x[0].
  Features forward(const Features& x) override {
    Features out;
    size_t i = 0;
    if (discard_ == 0) out.push_back(layers->ptr<nn::ConvNormalImpl>(i++)->forward(x[0]));
    for (size_t d = 0; i < layers->size(); ++d, ++i)
      out.push_back(layers->ptr<nn::ConvDownNormalImpl>(i)->forward(x[d], x[d + 1]));
    return out;
  }

  torch::nn::ModuleList layers{nullptr};

 private:
  int64_t discard_;
};
TORCH_MODULE(MSDNLayer);

// Channel reduction: a 1x1 ConvBasic per remaining scale (the reference's ParallelModule `m`).
class TransitionImpl : public ScaleStage {
 public:
  TransitionImpl(int64_t n_in, int64_t n_out, int64_t out_scales, const MSDNetOptions& o) {
    m = register_module("m", torch::nn::ModuleList());
    const auto& gr = o.gr_factor();
    const int64_t offset = static_cast<int64_t>(gr.size()) - out_scales;
    for (int64_t i = 0; i < out_scales; ++i)
      m->push_back(ConvBasic(ConvBasicOptions(n_in * gr[offset + i], n_out * gr[offset + i]).kernel(1).padding(0)));
  }

  Features forward(const Features& x) override {
    Features out;
    for (size_t i = 0; i < m->size(); ++i) out.push_back(m->ptr<nn::ConvBasicImpl>(i)->forward(x[i]));
    return out;
  }

  torch::nn::ModuleList m{nullptr};
};
TORCH_MODULE(Transition);

void check(const MSDNetOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("msdnet: " + what); };
  if (o.n_blocks() < 1) fail("nBlocks must be at least 1");
  if (o.n_channels() < 1 || o.growth_rate() < 1) fail("nChannels and growthRate must be positive");
  if (o.base() < 1 || o.step() < 0) fail("base must be at least 1 and step non-negative");
  if (o.gr_factor().empty()) fail("grFactor must list at least one scale");
  if (o.gr_factor().size() != o.bn_factor().size())
    fail("grFactor and bnFactor must have one entry per scale (" + std::to_string(o.gr_factor().size()) +
         " vs " + std::to_string(o.bn_factor().size()) + ")");
  if (o.num_classes() < 1) fail("the number of classes must be positive");
}

}  // namespace

MSDNetImpl::MSDNetImpl(const MSDNetOptions& o) : options(o) {
  check(o);
  blocks = register_module("blocks", torch::nn::ModuleList());
  classifier = register_module("classifier", torch::nn::ModuleList());
  const int64_t n_scales = static_cast<int64_t>(o.gr_factor().size());

  block_lengths_.push_back(o.base());
  for (int64_t i = 1; i < o.n_blocks(); ++i)
    block_lengths_.push_back(o.step_mode() == StepMode::kEven ? o.step() : o.step() * i + 1);
  int64_t n_layers_all = 0;
  for (int64_t len : block_lengths_) n_layers_all += len;

  int64_t n_in = o.n_channels();
  int64_t n_layer = 0;  // counted from 1 over the whole network
  const auto interval = static_cast<int64_t>(std::ceil(double(n_layers_all) / double(n_scales)));
  for (int64_t b = 0; b < o.n_blocks(); ++b) {
    auto block = torch::nn::ModuleList();
    if (b == 0) block->push_back(FirstLayer(o.in_channels(), n_in, o));
    for (int64_t i = 0; i < block_lengths_[b]; ++i) {
      ++n_layer;
      int64_t in_scales, out_scales;
      if (o.prune() == Prune::kMax) {
        in_scales = n_scales - std::max<int64_t>(0, n_layer - 2) / interval;
        out_scales = n_scales - (n_layer - 1) / interval;
      } else {
        in_scales = std::min(n_scales, n_layers_all - n_layer + 2);
        out_scales = std::min(n_scales, n_layers_all - n_layer + 1);
      }
      block->push_back(MSDNLayer(n_in, o.growth_rate(), in_scales, out_scales, o));
      n_in += o.growth_rate();
      const bool transition =
          o.reduction() > 0 &&
          (o.prune() == Prune::kMax ? in_scales > out_scales
                                    : (n_layer == n_layers_all / 3 || n_layer == 2 * n_layers_all / 3));
      if (transition) {
        block->push_back(Transition(n_in, nn::floor_times(o.reduction(), n_in), out_scales, o));
        n_in = nn::floor_times(o.reduction(), n_in);
      }
    }
    blocks->push_back(block);
    classifier->push_back(nn::exit_head(n_in * o.gr_factor().back(), o.num_classes(), o.imagenet()));
  }
}

Features MSDNetImpl::run_block(int64_t k, const Features& in) {
  const auto block = blocks->ptr<torch::nn::ModuleListImpl>(k);
  // Without autograd the dense layers grow each scale's map in place (nn/channel_concat.h).
  nn::ChannelArena arena;
  Features x = in;
  for (size_t i = 0; i < block->size(); ++i) x = block->ptr<ScaleStage>(i)->forward(x);
  return x;
}

torch::Tensor MSDNetImpl::run_exit(int64_t k, const Features& features) {
  return classifier->ptr<ClassifierModuleImpl>(k)->forward(features.back());
}

torch::Tensor MSDNetImpl::exit_features(int64_t k, const Features& features) {
  return classifier->ptr<ClassifierModuleImpl>(k)->features(features.back());
}

torch::Tensor MSDNetImpl::exit_logits_from_features(int64_t k, const torch::Tensor& exit_features) {
  return classifier->ptr<ClassifierModuleImpl>(k)->linear(exit_features);
}

int64_t MSDNetImpl::exit_feature_width(int64_t k) const {
  return classifier->ptr<ClassifierModuleImpl>(k)->linear->options.in_features();
}

}  // namespace l2w::models
