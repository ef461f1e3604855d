// The held-out validation set (`--use_valid`): a fixed random subset of the training set,
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

// How a run divides its `n` training samples between training and choosing exit thresholds.
struct SplitOptions {
  bool use_valid = false;      // false: every sample does both (both lists empty, meaning all)
  int64_t num_valid = 5000;    // held out when the index file does not exist yet and `may_draw`
  uint64_t seed = 0;
  bool may_draw = false;       // false: the index file must exist (evaluation, other ranks)
  // Another run's index to adopt instead of drawing one (IMTA's second stage takes its first stage's,
  // so that its thresholds are chosen on images neither stage trained on). When that file exists and
  // `index_path` does not, it is copied there; it must hold `num_valid` indices.
  std::string adopt_from;
};
// The run's split: the one place that decides what `--use_valid` means. `index_path` holds the
// held-out indices (the run folder's valid_index.txt).
TrainValidSplit run_split(const std::string& index_path, int64_t n, const SplitOptions& options);

}  // namespace l2w::dataset
