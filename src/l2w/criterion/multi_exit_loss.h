// Losses of a multi-exit network: per-sample, per-exit cross-entropies and their weighted sum (docs/algorithm.md).
#pragma once

#include <vector>

#include <torch/torch.h>

namespace l2w::criterion {

// L[i][k]: sample i's cross-entropy at exit k, as an [n, K] tensor.
torch::Tensor per_exit_losses(const std::vector<torch::Tensor>& logits, const torch::Tensor& labels,
                              double label_smoothing = 0.0);

// Σ_k mean_i(W_ik · L_ik). Undefined `weights` means W ≡ 1: the plain multi-exit loss.
torch::Tensor weighted_loss(const torch::Tensor& losses, const torch::Tensor& weights = {});

// C[i][k]: sample i's largest softmax probability at exit k, as an [n, K] tensor.
torch::Tensor per_exit_confidences(const std::vector<torch::Tensor>& logits);

}  // namespace l2w::criterion
