// The held-out validation set (SPEC §3, `--use_valid`): a fixed random subset of the training set,
// saved in the run folder so that training never uses it and evaluation reads the same one.
#pragma once

#include <string>
#include <vector>

namespace l2w::dataset {

struct TrainValidSplit {
  std::vector<int64_t> train;
  std::vector<int64_t> valid;
};

// Reads the split from `path` (one validation index per line) if it exists, otherwise draws
// `num_valid` of the `n` training samples with `seed` and writes them there.
TrainValidSplit load_or_make_split(const std::string& path, int64_t n, int64_t num_valid, uint64_t seed);
// Reads an existing split; DataError when it is missing or does not fit `n` samples.
TrainValidSplit load_split(const std::string& path, int64_t n);

}  // namespace l2w::dataset
