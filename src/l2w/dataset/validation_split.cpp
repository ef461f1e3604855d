#include "l2w/dataset/validation_split.h"
#include "l2w/runtime/option_list.h"
#include "l2w/runtime/atomic_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>

#include "l2w/dataset/image_dataset.h"

namespace l2w::dataset {

TrainValidSplit load_split(const std::string& path, int64_t n) {
  std::ifstream in(path);
  if (!in) throw DataError(path + ": no validation index (train with use_valid first)");
  std::vector<bool> is_valid(n, false);
  TrainValidSplit split;
  int64_t i;
  while (in >> i) {
    if (i < 0 || i >= n || is_valid[i])
      throw DataError(path + ": index " + std::to_string(i) + " is out of range or repeated for " +
                      std::to_string(n) + " training samples");
    is_valid[i] = true;
    split.valid.push_back(i);
  }
  if (!in.eof()) throw DataError(path + ": not a list of integers");
  for (int64_t j = 0; j < n; ++j) {
    if (!is_valid[j]) split.train.push_back(j);
  }
  return split;
}

TrainValidSplit load_or_make_split(const std::string& path, int64_t n, int64_t num_valid, uint64_t seed) {
  if (std::filesystem::exists(path)) return load_split(path, n);
  if (num_valid <= 0 || num_valid >= n)
    throw options::OptionError("num_sample_valid", "must be between 1 and " + std::to_string(n - 1));
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<int64_t> valid(order.end() - num_valid, order.end());
  std::ostringstream text;
  for (int64_t v : valid) text << v << '\n';
  // Written whole or not at all: it fixes the held-out images across resumes.
  runtime::write_file_atomically(path, text.str());
  return load_split(path, n);
}

TrainValidSplit run_split(const std::string& index_path, int64_t n, const SplitOptions& options) {
  if (!options.use_valid) return {};
  if (!options.adopt_from.empty() && std::filesystem::exists(options.adopt_from)) {
    const auto adopted = load_split(options.adopt_from, n);
    if (int64_t(adopted.valid.size()) != options.num_valid)
      throw options::OptionError("num_sample_valid", std::to_string(options.num_valid) + " disagrees with the " +
                                                         std::to_string(adopted.valid.size()) + " samples held out in " +
                                                         options.adopt_from + ", which this run adopts");
    if (options.may_draw && !std::filesystem::exists(index_path))
      std::filesystem::copy_file(options.adopt_from, index_path);
  }
  if (options.may_draw) return load_or_make_split(index_path, n, options.num_valid, options.seed);
  return load_split(index_path, n);
}

}  // namespace l2w::dataset
