// Gradient equilibrium's building block (IMTA, "Improved Techniques for Training Adaptive Deep Networks";
// docs/algorithm.md): the identity forward, a backward that multiplies the incoming gradient by a
// constant.
#pragma once

#include <torch/torch.h>

namespace l2w::nn {

// Returns x unchanged (a view of it); the gradient that reaches x through the result is `factor` times
// the result's. The backward is itself differentiable (linear in the incoming gradient), so second-order
// meta-gradients pass through it.
torch::Tensor scale_gradient(const torch::Tensor& x, double factor);

}  // namespace l2w::nn
