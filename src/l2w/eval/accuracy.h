// Top-k counting shared by training progress and evaluation.
#pragma once

#include <torch/torch.h>

namespace l2w::eval {

// Number of rows of `logits` whose label is among the k largest entries.
int64_t topk_correct(const torch::Tensor& logits, const torch::Tensor& labels, int64_t k);
// The same count as a 0-dim int64 tensor on the logits' device, without waiting for it.
torch::Tensor topk_hits(const torch::Tensor& logits, const torch::Tensor& labels, int64_t k);

}  // namespace l2w::eval
