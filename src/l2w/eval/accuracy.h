// Top-k counting shared by training progress and evaluation.
#pragma once

#include <torch/torch.h>

namespace l2w::eval {

// Number of rows of `logits` whose label is among the k largest entries.
int64_t topk_correct(const torch::Tensor& logits, const torch::Tensor& labels, int64_t k);

}  // namespace l2w::eval
