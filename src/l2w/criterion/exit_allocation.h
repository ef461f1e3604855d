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

// How many of n samples each exit takes: floor(n·q_k) for all but the last, which takes the rest.
std::vector<int64_t> exit_counts(int64_t n, const std::vector<float>& q);

// The same allocation as allocate_exits, computed where the confidences are without waiting for them:
// [n] int64 exits on their device. Each exit's pick is a stable descending sort by its confidence and a
// running count of the samples still free in that order, so the training step never reads to the host.
torch::Tensor allocate_exits_on_device(const torch::Tensor& confidences, const std::vector<float>& q);

// The samples of each exit, ascending, as index tensors on the device of `exits` (allocate_exits_on_device's),
// sized by exit_counts: no read of the allocation is needed to know them.
std::vector<torch::Tensor> rows_by_exit(const torch::Tensor& exits, const std::vector<float>& q);

}  // namespace l2w::criterion
