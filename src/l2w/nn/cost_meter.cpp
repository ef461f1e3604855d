#include "l2w/nn/cost_meter.h"

#include <stdexcept>

namespace l2w::nn {
namespace {

thread_local CostMeter* active_meter = nullptr;

int64_t parameter_count(const torch::nn::Module& layer) {
  int64_t n = 0;
  for (const auto& p : layer.parameters(/*recurse=*/false)) n += p.numel();
  return n;
}

int64_t square(int64_t v) { return v * v; }

}  // namespace

CostMeter::CostMeter() : previous_(active_meter) { active_meter = this; }
CostMeter::~CostMeter() { active_meter = previous_; }
CostMeter* CostMeter::active() { return active_meter; }

void CostMeter::charge(const torch::nn::Module& layer, const torch::Tensor& in, const torch::Tensor& out) {
  if (observer_) observer_(layer, in.sizes());
  // Per sample: the meter is run with a batch of one, as the reference counts.
  const int64_t out_h = out.dim() == 4 ? out.size(2) : 1;
  const int64_t out_w = out.dim() == 4 ? out.size(3) : 1;
  if (const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(&layer)) {
    const auto& o = conv->options;
    const auto& k = o.kernel_size();
    // The bias of a conv is not a MUL-ADD.
    total_.muladds += o.in_channels() * o.out_channels() * k->at(0) * k->at(1) * out_h * out_w / o.groups();
    total_.params += parameter_count(layer);
  } else if (dynamic_cast<const torch::nn::ReLUImpl*>(&layer)) {
    total_.muladds += in.numel();
  } else if (const auto* pool = dynamic_cast<const torch::nn::AvgPool2dImpl*>(&layer)) {
    total_.muladds += out.size(1) * out_h * out_w * square(pool->options.kernel_size()->at(0));
  } else if (const auto* maxpool = dynamic_cast<const torch::nn::MaxPool2dImpl*>(&layer)) {
    total_.muladds += out.size(1) * out_h * out_w * square(maxpool->options.kernel_size()->at(0));
  } else if (dynamic_cast<const torch::nn::LinearImpl*>(&layer)) {
    total_.muladds += parameter_count(layer);
    total_.params += parameter_count(layer);
  } else if (dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&layer) ||
             dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&layer)) {
    total_.params += parameter_count(layer);  // folded into the layer before at inference, as the reference counts
  } else if (parameter_count(layer) > 0) {
    throw std::logic_error("cost meter: no cost rule for layer " + layer.name());
  }
}

torch::Tensor run(const torch::nn::Sequential& layers, torch::Tensor x) {
  CostMeter* meter = CostMeter::active();
  if (meter == nullptr) return layers.ptr()->forward(x);
  for (auto& layer : *layers.ptr()) {
    torch::Tensor in = x;
    // Shapes only; an in-place layer may overwrite `in`, but not its shape.
    x = layer.forward(x);
    if (layer.ptr()->children().empty()) meter->charge(*layer.ptr(), in, x);
  }
  return x;
}

torch::Tensor run(const torch::nn::Linear& layer, const torch::Tensor& x) {
  // A Linear kept in float32 in a network deployed in bfloat16 (the exits' last layers,
  // infer/inference_form.h) reads its input in float32.
  const auto dtype = layer->weight.scalar_type();
  torch::Tensor y = layer.ptr()->forward(x.scalar_type() == dtype ? x : x.to(dtype));
  if (CostMeter* meter = CostMeter::active()) meter->charge(*layer, x, y);
  return y;
}

}  // namespace l2w::nn
