#include "l2w/nn/batch_norm_folding.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "l2w/nn/sequential_edit.h"

namespace l2w::nn {
namespace {

// The convolution that computes conv followed by bn (eval mode). Scale and shift are formed in float64
// so that the folded weights are the exact products rounded once.
torch::nn::Conv2d folded(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn) {
  if (!bn.options.track_running_stats() || !bn.running_mean.defined())
    throw std::invalid_argument("fold_batch_norms: a BatchNorm2d without running statistics cannot be folded");
  const auto& o = conv.options;
  auto result = torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
                                      .stride(o.stride())
                                      .padding(o.padding())
                                      .dilation(o.dilation())
                                      .groups(o.groups())
                                      .padding_mode(o.padding_mode())
                                      .bias(true));
  torch::NoGradGuard no_grad;
  const auto dtype = conv.weight.scalar_type();
  const auto as_double = [](const torch::Tensor& t) { return t.to(torch::kFloat64); };
  auto scale = as_double(bn.running_var).add(bn.options.eps()).rsqrt();
  if (bn.options.affine()) scale = scale.mul(as_double(bn.weight));
  auto shift = as_double(bn.running_mean).neg().mul(scale);
  if (conv.bias.defined()) shift = shift.add(as_double(conv.bias).mul(scale));
  if (bn.options.affine()) shift = shift.add(as_double(bn.bias));
  result->to(conv.weight.device(), dtype);
  result->weight.copy_(as_double(conv.weight).mul(scale.view({-1, 1, 1, 1})).to(dtype));
  result->bias.copy_(shift.to(dtype));
  result->eval();
  return result;
}

int64_t fold_in(torch::nn::SequentialImpl& seq) {
  int64_t count = 0;
  for (size_t i = 0; i + 1 < seq.size(); ++i) {
    const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(seq.ptr(i).get());
    const auto* bn = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(seq.ptr(i + 1).get());
    if (conv == nullptr || bn == nullptr) continue;
    replace_child(seq, i, folded(*conv, *bn));
    replace_child(seq, i + 1, torch::nn::Identity());
    ++count;
  }
  return count;
}

}  // namespace

int64_t fold_batch_norms(torch::nn::Module& root) {
  int64_t count = 0;
  for (const auto& seq : sequentials_under(root)) count += fold_in(*seq);
  return count;
}

}  // namespace l2w::nn
