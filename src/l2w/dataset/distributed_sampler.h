// How data-parallel processes share one epoch (PyTorch's DistributedSampler): the epoch's order, the
// same on every rank because it depends only on (seed, epoch), is padded by repeating its head to a
// multiple of the world size when every rank must see as many samples, and rank r takes the positions
// r, r + world, r + 2·world, … . Consecutive batches of b on W ranks thus cover the positions that one
// process with batches of W·b would, and the shards of an epoch are disjoint apart from the padding.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace l2w::dataset {

struct Shard {
  std::vector<int64_t> samples;    // data-set indices, in the rank's order
  std::vector<int64_t> positions;  // each one's position in the (padded) epoch order
};

// Rank `rank` of `world_size`'s part of `epoch_order`; with `pad`, every rank gets
// ceil(n / world_size) samples, otherwise the first n mod world_size ranks get one more than the rest.
Shard shard_of(const std::vector<int64_t>& epoch_order, int64_t world_size, int64_t rank, bool pad);
// The number of samples shard_of gives rank `rank` out of n.
int64_t shard_size(int64_t n, int64_t world_size, int64_t rank, bool pad);

// The inverse for unpadded shards: rows of per-rank results, rank after rank (each rank's rows in its
// shard's order), put back in epoch order.
torch::Tensor unshard_rows(const torch::Tensor& rank_after_rank, int64_t world_size);

}  // namespace l2w::dataset
