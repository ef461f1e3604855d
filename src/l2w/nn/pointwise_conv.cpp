#include "l2w/nn/pointwise_conv.h"

#include <torch/csrc/jit/frontend/tracer.h>

#include <variant>

#include "l2w/nn/channel_concat.h"
#include "l2w/nn/sequential_edit.h"

namespace l2w::nn {
namespace {

bool all_equal(const torch::ExpandingArray<2>& values, int64_t v) { return values->at(0) == v && values->at(1) == v; }

}  // namespace

bool is_pointwise(const torch::nn::Conv2dImpl& conv) {
  const auto& o = conv.options;
  const auto* padding = std::get_if<torch::ExpandingArray<2>>(&o.padding());
  return all_equal(o.kernel_size(), 1) && all_equal(o.stride(), 1) && all_equal(o.dilation(), 1) &&
         padding != nullptr && all_equal(*padding, 0) && o.groups() == 1;
}

PointwiseConvImpl::PointwiseConvImpl(const torch::nn::Conv2dImpl& conv) : Conv2dImpl(options_of(conv)) {
  TORCH_CHECK(is_pointwise(conv), "PointwiseConv: not a 1x1 convolution of stride 1 without padding");
  take_parameters_of(conv, *this);
}

torch::Tensor PointwiseConvImpl::forward(const torch::Tensor& x) {
  // A trace (ONNX export) records the convolution itself, whose shapes follow the input's.
  if (!x.is_cpu() || !has_dense_images(x) || torch::jit::tracer::isTracing()) return Conv2dImpl::forward(x);
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t out = weight.size(0), in = weight.size(1);
  if (n == 1) {  // one product with the bias added in it: no broadcast batch (2-6 µs a layer at batch 1)
    const auto pixels = x.as_strided({in, h * w}, {h * w, 1});
    const auto flat = weight.view({out, in});
    auto y = bias.defined() ? torch::addmm(bias.view({out, 1}), flat, pixels) : torch::mm(flat, pixels);
    return y.view({1, out, h, w});
  }
  // [O, C] x [N, C, H*W] -> [N, O, H*W]: one product per image, so an image's result does not depend on
  // the batch it came in (the stage-wise engine relies on that). Images may lie apart in memory (the
  // channel prefix of a larger buffer, nn/channel_concat.h).
  auto y = torch::matmul(weight.reshape({out, in}), x.as_strided({n, in, h * w}, {x.stride(0), h * w, 1}));
  if (bias.defined()) y.add_(bias.view({1, out, 1}));
  return y.view({n, out, h, w});
}

int64_t use_pointwise_convs(torch::nn::Module& root) {
  int64_t count = 0;
  for (const auto& seq : sequentials_under(root)) {
    for (size_t i = 0; i < seq->size(); ++i) {
      const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(seq->ptr(i).get());
      if (conv == nullptr || dynamic_cast<const PointwiseConvImpl*>(conv) != nullptr || !is_pointwise(*conv)) continue;
      replace_child(*seq, i, PointwiseConv(*conv));
      ++count;
    }
  }
  return count;
}

}  // namespace l2w::nn
