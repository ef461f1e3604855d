#include "l2w/infer/conv_layouts.h"

#include <chrono>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "l2w/infer/early_exit_classifier.h"
#include "l2w/nn/channels_last_conv.h"
#include "l2w/nn/cost_meter.h"
#include "l2w/nn/pointwise_conv.h"
#include "l2w/nn/sequential_edit.h"

namespace l2w::infer {
namespace {

using Conv = torch::nn::Conv2dImpl;

// Each convolution that is still a plain Conv2d and its input's shape for one image.
std::map<const torch::nn::Module*, std::vector<int64_t>> conv_inputs(DeployedNetwork& m) {
  std::map<const torch::nn::Module*, std::vector<int64_t>> inputs;
  nn::CostMeter meter;
  meter.observe([&](const torch::nn::Module& layer, torch::IntArrayRef shape) {
    if (dynamic_cast<const Conv*>(&layer) != nullptr && dynamic_cast<const nn::PointwiseConvImpl*>(&layer) == nullptr &&
        dynamic_cast<const nn::ChannelsLastConvImpl*>(&layer) == nullptr)
      inputs.emplace(&layer, shape.vec());
  });
  EarlyExitClassifier every_exit(m.net, never_exit(m.net->num_exits()), m.form.input_format);
  every_exit.set_compute_every_exit(true);  // the exits' convolutions too
  every_exit.classify(torch::zeros(m.image_shape));
  return inputs;
}

// The best time of 20 calls of `call`, over 3 rounds taken in turn with the other's.
std::pair<double, double> best_of_both(const std::function<void()>& a, const std::function<void()>& b) {
  double best_a = std::numeric_limits<double>::infinity(), best_b = best_a;
  const auto time20 = [](const std::function<void()>& call) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) call();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / 20;
  };
  a(), b();  // warm-up: kernels prepared
  for (int round = 0; round < 3; ++round) {
    best_a = std::min(best_a, time20(a));
    best_b = std::min(best_b, time20(b));
  }
  return {best_a, best_b};
}

}  // namespace

std::string ConvLayouts::report() const {
  char text[200];
  std::snprintf(text, sizeof text,
                "at batch 1, %lld of %lld convolutions in channels_last, the faster measured for them (all "
                "convolutions %.3f ms in NCHW, %.3f ms so)",
                static_cast<long long>(channels_last), static_cast<long long>(timed), nchw_ms, chosen_ms);
  return text;
}

ConvLayouts choose_conv_layouts(DeployedNetwork& m) {
  torch::NoGradGuard no_grad;  // not InferenceMode: the weights' channels_last copies must stay ordinary tensors
  ConvLayouts out;
  std::set<const torch::nn::Module*> faster_channels_last;
  for (const auto& [layer, shape] : conv_inputs(m)) {
    auto& conv = const_cast<Conv&>(dynamic_cast<const Conv&>(*layer));
    const auto x = torch::randn(shape, conv.weight.options());
    nn::ChannelsLastConvImpl candidate(conv);
    const auto [nchw, channels_last] = best_of_both(
        [&] {
          c10::InferenceMode inference;
          conv.forward(x);
        },
        [&] {
          c10::InferenceMode inference;
          candidate.forward(x);
        });
    ++out.timed;
    out.nchw_ms += nchw;
    if (channels_last < 0.9 * nchw) {
      faster_channels_last.insert(layer);
      ++out.channels_last;
      out.chosen_ms += channels_last;
    } else {
      out.chosen_ms += nchw;
    }
  }
  for (const auto& seq : nn::sequentials_under(*m.net))
    for (size_t i = 0; i < seq->size(); ++i)
      if (faster_channels_last.count(seq->ptr(i).get()))
        nn::replace_child(*seq, i, nn::ChannelsLastConv(*seq->ptr<Conv>(i)));
  return out;
}

}  // namespace l2w::infer
