#include "l2w/models/ranet.h"

#include <cmath>
#include <stdexcept>

#include "l2w/nn/classifier_module.h"
#include "l2w/nn/conv_blocks.h"
#include "l2w/nn/cost_meter.h"
#include "l2w/nn/stem_and_head.h"

namespace l2w::models {

using nn::ConvBasic;
using nn::ConvBasicOptions;
using nn::ConvBN;
using nn::ConvBNOptions;

// The stem: one layer per flow from the highest resolution down; forward returns the lowest first.
// A layer keeps the resolution when its flow's scale equals the previous one's, else halves it.
class RAFirstLayerImpl : public torch::nn::Module {
 public:
  explicit RAFirstLayerImpl(const RANetOptions& o) {
    layers = register_module("layers", torch::nn::ModuleList());
    const int64_t n_scales = static_cast<int64_t>(o.scale_list().size());
    // The reference walks the flows from the highest resolution: grFactor and scale-list reversed.
    auto channels = [&](int64_t i) { return o.n_channels() * o.gr_factor()[n_scales - 1 - i]; };
    auto scale = [&](int64_t i) { return o.scale_list()[n_scales - 1 - i]; };
    layers->push_back(nn::stem(o.in_channels(), channels(0), o.imagenet()));
    int64_t current_scale = scale(0);
    for (int64_t i = 1; i < n_scales; ++i) {
      const bool halve = scale(i) != current_scale;
      current_scale = scale(i);
      layers->push_back(ConvBasic(ConvBasicOptions(channels(i - 1), channels(i)).stride(halve ? 2 : 1)));
    }
  }

  std::vector<torch::Tensor> forward(torch::Tensor x) {
    std::vector<torch::Tensor> out;
    for (const auto& layer : *layers) out.insert(out.begin(), x = nn::run(nn::stem_sequence(layer), x));
    return out;
  }

  torch::nn::ModuleList layers{nullptr};
};

namespace {

using nn::floor_times;

torch::Tensor resize_to(const torch::Tensor& x, const torch::Tensor& like) {
  const int64_t h = like.size(2), w = like.size(3);
  if (x.size(2) == h && x.size(3) == w) return x;  // bilinear with align_corners at the same size is the identity
  return torch::nn::functional::interpolate(
      x, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(true));
}

// A fused dense layer: out = [x resized, ConvBN(below) up-sampled, ConvBN(x)], the last halving x's
// resolution in a down-sampling layer. Adds `out` channels, compress_factor of them from below.
class ConvUpNormalImpl : public torch::nn::Module {
 public:
  ConvUpNormalImpl(int64_t in_same, int64_t in_below, int64_t out, int64_t bn_width_same, int64_t bn_width_below,
                   double compress_factor, bool down) {
    const int64_t from_below = floor_times(compress_factor, out);
    conv_up = register_module("conv_up", ConvBN(ConvBNOptions(in_below, from_below).bottleneck_width(bn_width_below)));
    conv_normal = register_module(
        "conv_normal", ConvBN(ConvBNOptions(in_same, out - from_below)
                                  .type(down ? nn::ConvType::kDown : nn::ConvType::kNormal)
                                  .bottleneck_width(bn_width_same)));
  }

  torch::Tensor forward(const torch::Tensor& below, const torch::Tensor& x) {
    const auto own = conv_normal(x);
    return torch::cat({resize_to(x, own), resize_to(conv_up(below), own), own}, 1);
  }

  ConvBN conv_up{nullptr};
  ConvBN conv_normal{nullptr};
};
TORCH_MODULE(ConvUpNormal);

// A block of dense layers within one flow, then an optional 1x1 transition.
class BlockNormalImpl : public RANetBlock {
 public:
  BlockNormalImpl(int64_t num_layers, int64_t in, int64_t growth, double reduction, bool transition, int64_t bn_width) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < num_layers; ++i)
      layers->push_back(nn::ConvNormal(in + i * growth, growth, /*bottleneck=*/true, bn_width));
    const int64_t out = in + num_layers * growth;
    if (transition) trans = register_module("trans", ConvBasic(ConvBasicOptions(out, floor_times(reduction, out)).kernel(1).padding(0)));
  }

  Output forward(const torch::Tensor& x, const std::vector<torch::Tensor>&) override {
    Output out{x, {x}};
    for (size_t i = 0; i < layers->size(); ++i)
      out.layers.push_back(out.x = layers->ptr<nn::ConvNormalImpl>(i)->forward(out.x));
    if (trans) out.x = trans(out.x);
    return out;
  }

  torch::nn::ModuleList layers{nullptr};
  ConvBasic trans{nullptr};
};
TORCH_MODULE(BlockNormal);

// A block of fused layers: layer i also takes layer i's features of the same block in the flow below;
// at the end, the below block's output joins (1x1 conv, up-sampled) before the optional transition.
class BlockUpNormalImpl : public RANetBlock {
 public:
  BlockUpNormalImpl(int64_t num_layers, int64_t in, const std::vector<int64_t>& below_channels, int64_t growth,
                    double reduction, bool transition, bool down, double compress_factor, int64_t bn_width_same,
                    int64_t bn_width_below) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < num_layers; ++i)
      layers->push_back(ConvUpNormal(in + i * growth, below_channels.at(i), growth, bn_width_same, bn_width_below,
                                     compress_factor, down && i + 1 == num_layers));
    int64_t out = in + num_layers * growth;
    conv_last = register_module(
        "conv_last", ConvBasic(ConvBasicOptions(below_channels.at(num_layers), floor_times(compress_factor, out)).kernel(1).padding(0)));
    out += floor_times(compress_factor, out);
    if (transition) trans = register_module("trans", ConvBasic(ConvBasicOptions(out, floor_times(reduction, out)).kernel(1).padding(0)));
  }

  Output forward(const torch::Tensor& x, const std::vector<torch::Tensor>& below) override {
    Output out{x, {x}};
    for (size_t i = 0; i < layers->size(); ++i)
      out.layers.push_back(out.x = layers->ptr<ConvUpNormalImpl>(i)->forward(below.at(i), out.x));
    out.x = torch::cat({out.x, resize_to(conv_last(below.at(layers->size())), out.x)}, 1);
    if (trans) out.x = trans(out.x);
    return out;
  }

  torch::nn::ModuleList layers{nullptr};
  ConvBasic conv_last{nullptr};
  ConvBasic trans{nullptr};
};
TORCH_MODULE(BlockUpNormal);

void check(const RANetOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("RANet: " + what); };
  const size_t n = o.scale_list().size();
  if (n == 0) fail("scale-list must list at least one flow");
  if (o.gr_factor().size() != n || o.bn_factor().size() != n)
    fail("grFactor, bnFactor and scale-list must have one entry per flow (" + std::to_string(o.gr_factor().size()) +
         ", " + std::to_string(o.bn_factor().size()) + ", " + std::to_string(n) + ")");
  for (size_t i = 1; i < n; ++i)
    if (o.scale_list()[i] < o.scale_list()[i - 1]) fail("scale-list must not decrease");
  if (o.n_blocks() < 1 || o.block_step() < 0 || o.step() < 1) fail("nBlocks and step must be at least 1");
  if (o.n_channels() < 1 || o.growth_rate() < 1 || o.num_classes() < 1) fail("sizes must be positive");
  if (o.compress_factor() <= 0 || o.compress_factor() >= 1) fail("compress-factor must lie in (0, 1)");
  for (size_t f = 1; f < n; ++f)
    if (floor_times(o.compress_factor(), o.growth_rate() * o.gr_factor()[f]) < 1)
      fail("growthRate x grFactor x compress-factor leaves fused layers without channels from below");
}

}  // namespace

struct RANetImpl::State {
  Position done;                                  // the block last run
  torch::Tensor x;                                // its output
  std::vector<torch::Tensor> waiting;             // stem outputs of the flows not begun, lowest first
  std::vector<std::vector<torch::Tensor>> below;  // per block of the flow below: its layers' features
  std::vector<std::vector<torch::Tensor>> own;    // the same for this flow's blocks so far
};

RANetImpl::RANetImpl(const RANetOptions& o) : options(o) {
  check(o);
  const int64_t n_scales = static_cast<int64_t>(o.scale_list().size());
  first_layer_ = register_module("FirstLayer", std::make_shared<RAFirstLayerImpl>(o));
  scale_flows = register_module("scale_flows", torch::nn::ModuleList());
  classifier = register_module("classifier", torch::nn::ModuleList());

  fused_blocks_.push_back(0);
  for (int64_t f = 0; f < n_scales; ++f) {
    flow_blocks_.push_back(o.n_blocks() + f * o.block_step());
    if (f + 1 < n_scales) fused_blocks_.push_back(flow_blocks_.back());
  }
  for (int64_t j = 0; j < flow_blocks_.back(); ++j) block_layers_.push_back(o.step_grows() ? o.step() * (j + 1) : o.step());

  std::vector<std::vector<int64_t>> below_channels;  // per block of the flow below: its layers' widths
  for (int64_t f = 0; f < n_scales; ++f) {
    const int64_t scale = o.scale_list()[f];
    const int64_t blocks = flow_blocks_[f];
    // Fused blocks that halve the resolution: those ending where one of the last scale−1 lower flows
    // ends (all of them when scale is 1, as the reference's slice [-0:] takes the whole list).
    std::vector<int64_t> ends(flow_blocks_.begin(), flow_blocks_.begin() + f);
    ends.insert(ends.begin(), 0);
    const int64_t keep = scale - 1 == 0 ? static_cast<int64_t>(ends.size()) : std::min<int64_t>(scale - 1, ends.size());
    const std::vector<int64_t> down_after(ends.end() - keep, ends.end());

    auto flow = torch::nn::ModuleList();
    std::vector<std::vector<int64_t>> own_channels;
    int64_t in = o.n_channels() * o.gr_factor()[f];
    const int64_t growth = o.growth_rate() * o.gr_factor()[f];
    for (int64_t j = 0; j < blocks; ++j) {
      const int64_t n = j + 1;  // the reference counts blocks from 1
      bool transition = false;
      for (int64_t i = 0; i + 1 < scale; ++i)
        if (n == (i + 1) * blocks / scale) transition = true;
      const int64_t layers = block_layers_[j];
      std::vector<int64_t> widths;
      for (int64_t i = 0; i <= layers; ++i) widths.push_back(in + i * growth);
      int64_t out = in + layers * growth;
      if (j < fused_blocks_[f]) {
        const bool down = std::find(down_after.begin(), down_after.end(), n) != down_after.end();
        flow->push_back(BlockUpNormal(layers, in, below_channels.at(j), growth, o.reduction(), transition, down,
                                      o.compress_factor(), o.bn_factor()[f], o.bn_factor()[f - 1]));
        out += floor_times(o.compress_factor(), out);
      } else {
        flow->push_back(BlockNormal(layers, in, growth, o.reduction(), transition, o.bn_factor()[f]));
      }
      if (transition) out = floor_times(o.reduction(), out);
      in = out;
      if (j >= fused_blocks_[f]) {
        classifier->push_back(nn::exit_head(in, o.num_classes(), o.imagenet()));
        exit_blocks_.push_back({f, j});
      }
      own_channels.push_back(widths);
    }
    below_channels = own_channels;
    scale_flows->push_back(flow);
  }
}

// Features between exits: [x, waiting…, below (flattened), own (flattened)]; the counts follow from the
// position, so every tensor is batch-first and early-exit inference can compact them all alike.
Features RANetImpl::pack(const State& s) const {
  Features out{s.x};
  out.insert(out.end(), s.waiting.begin(), s.waiting.end());
  for (const auto& block : s.below) out.insert(out.end(), block.begin(), block.end());
  for (const auto& block : s.own) out.insert(out.end(), block.begin(), block.end());
  return out;
}

RANetImpl::State RANetImpl::unpack(int64_t k, const Features& in) const {
  State s;
  s.done = exit_blocks_.at(k);
  const int64_t f = s.done.flow;
  size_t at = 0;
  auto take = [&]() {
    if (at >= in.size()) throw std::invalid_argument("RANet: features of another exit");
    return in[at++];
  };
  s.x = take();
  for (int64_t i = f + 1; i < static_cast<int64_t>(flow_blocks_.size()); ++i) s.waiting.push_back(take());
  if (f > 0) {
    for (int64_t j = 0; j < flow_blocks_[f - 1]; ++j) {
      s.below.emplace_back();
      for (int64_t i = 0; i <= block_layers_[j]; ++i) s.below.back().push_back(take());
    }
  }
  for (int64_t j = 0; j <= s.done.block; ++j) {
    s.own.emplace_back();
    for (int64_t i = 0; i <= block_layers_[j]; ++i) s.own.back().push_back(take());
  }
  if (at != in.size()) throw std::invalid_argument("RANet: features of another exit");
  return s;
}

Features RANetImpl::run_block(int64_t k, const Features& in) {
  State s;
  int64_t flow = 0, next = 0;  // the next block to run
  if (k == 0) {
    s.waiting = first_layer_->forward(in.at(0));
    s.x = s.waiting.front();
    s.waiting.erase(s.waiting.begin());
  } else {
    s = unpack(k - 1, in);
    flow = s.done.flow;
    next = s.done.block + 1;
  }
  const Position target = exit_blocks_.at(k);
  while (true) {
    if (next == flow_blocks_[flow]) {  // this flow is done: the next one begins from its stem features
      ++flow;
      next = 0;
      s.below = std::move(s.own);
      s.own.clear();
      s.x = s.waiting.front();
      s.waiting.erase(s.waiting.begin());
    }
    const auto block = scale_flows->ptr<torch::nn::ModuleListImpl>(flow)->ptr<RANetBlock>(next);
    auto out = block->forward(s.x, next < fused_blocks_[flow] ? s.below.at(next) : Features{});
    s.x = out.x;
    s.own.push_back(std::move(out.layers));
    if (flow == target.flow && next == target.block) break;
    ++next;
  }
  s.done = target;
  return pack(s);
}

torch::Tensor RANetImpl::run_exit(int64_t k, const Features& features) {
  return classifier->ptr<nn::ClassifierModuleImpl>(k)->forward(features.at(0));
}

}  // namespace l2w::models
