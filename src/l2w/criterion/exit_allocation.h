// Target exit proportions and the allocation of samples to exits by confidence (docs/algorithm.md,
// "Target proportions" and step 5 of the meta step).
#pragma once

#include <vector>

#include <torch/torch.h>

namespace l2w::criterion {

// q_k ∝ p^k (k = 1..K), p = p_index / 20, normalised; computed in float32 as the reference does, so that
// floor(n·q_k) rounds the same way.
std::vector<float> target_proportions(int64_t p_index, int64_t num_exits);

// floor(n · q_k) with the reference's float32 product.
int64_t quota(int64_t n, float q);

// Exit (0-based) of each sample: exit 1 takes the floor(n·q_1) most confident samples at exit 1; each
// middle exit k, among samples not yet taken, the floor(n·q_k) most confident at exit k; the last exit
// takes the rest. `confidences` is [n, K]. Ties keep the lower sample index first (stable order).
std::vector<int64_t> allocate_exits(const torch::Tensor& confidences, const std::vector<float>& q);

}  // namespace l2w::criterion
