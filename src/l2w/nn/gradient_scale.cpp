#include "l2w/nn/gradient_scale.h"

namespace l2w::nn {
namespace {

struct GradientScale : torch::autograd::Function<GradientScale> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, double factor) {
    ctx->saved_data["factor"] = factor;
    return x.view_as(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    return {grad[0] * ctx->saved_data["factor"].toDouble(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor scale_gradient(const torch::Tensor& x, double factor) { return GradientScale::apply(x, factor); }

}  // namespace l2w::nn
