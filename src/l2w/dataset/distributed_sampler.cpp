#include "l2w/dataset/distributed_sampler.h"

#include <stdexcept>

namespace l2w::dataset {

int64_t shard_size(int64_t n, int64_t world_size, int64_t rank, bool pad) {
  if (pad) return (n + world_size - 1) / world_size;
  return n / world_size + (rank < n % world_size ? 1 : 0);
}

Shard shard_of(const std::vector<int64_t>& epoch_order, int64_t world_size, int64_t rank, bool pad) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    throw std::invalid_argument("rank " + std::to_string(rank) + " is not in a world of " + std::to_string(world_size));
  const auto n = static_cast<int64_t>(epoch_order.size());
  const int64_t total = pad ? shard_size(n, world_size, 0, true) * world_size : n;
  Shard shard;
  for (int64_t p = rank; p < total; p += world_size) {
    if (n == 0) break;
    shard.samples.push_back(epoch_order[p % n]);
    shard.positions.push_back(p);
  }
  return shard;
}

torch::Tensor unshard_rows(const torch::Tensor& rank_after_rank, int64_t world_size) {
  const int64_t n = rank_after_rank.size(0);
  std::vector<int64_t> source(n);
  int64_t row = 0;
  for (int64_t r = 0; r < world_size; ++r) {
    for (int64_t p = r; p < n; p += world_size) source[p] = row++;
  }
  return rank_after_rank.index_select(0, torch::tensor(source, torch::kInt64).to(rank_after_rank.device()));
}

}  // namespace l2w::dataset
