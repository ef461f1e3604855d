// Batches prepared ahead of the training step on worker threads. The order of an epoch and each
// sample's augmentation depend only on (seed, epoch, position in the epoch), never on thread timing or
// on how many processes share the epoch, so a resumed run sees the same data as an uninterrupted one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <string>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "l2w/dataset/image_dataset.h"

namespace l2w::dataset {

struct Batch {
  torch::Tensor images;   // float [B, C, H, W], normalised
  torch::Tensor labels;   // int64 [B]
  torch::Tensor indices;  // int64 [B], positions in the data set
};

// The batch size evaluation reads at: at least 256 images, whatever the training batch, since a
// loader batch's fixed costs (and on image folders, its decode threads' start) dominate small ones.
inline int64_t evaluation_batch_size(int64_t requested) { return requested > 256 ? requested : 256; }

struct LoaderOptions {
  TORCH_ARG(int64_t, batch_size) = 64;
  TORCH_ARG(bool, shuffle) = false;
  TORCH_ARG(bool, augment) = false;  // random crop with padding 4 and horizontal flip
  TORCH_ARG(uint64_t, seed) = 0;
  TORCH_ARG(int64_t, workers) = 1;
  TORCH_ARG(int64_t, prefetch) = 4;  // batches made ahead of the consumer
  // Image files that cannot be decoded: skipped and counted (bad_images()) instead of stopping.
  TORCH_ARG(bool, skip_bad_images) = false;
  // Data parallelism (distributed_sampler.h): this process is `rank` of `world_size` and loads its
  // shard of every epoch; `pad_shards` gives every rank as many samples (training), without it the
  // shards partition the data exactly (evaluation).
  TORCH_ARG(int64_t, world_size) = 1;
  TORCH_ARG(int64_t, rank) = 0;
  TORCH_ARG(bool, pad_shards) = true;
  // Images and labels in page-locked memory, for asynchronous (non_blocking) copies to a GPU.
  TORCH_ARG(bool, pin_memory) = false;
};

class BatchLoader {
 public:
  // `subset` lists the samples to use (all of them when empty).
  BatchLoader(std::shared_ptr<const ImageDataset> data, std::vector<int64_t> subset, LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // This rank's samples per epoch.
  int64_t num_samples() const;
  int64_t num_batches() const;
  int64_t batch_size() const { return options_.batch_size(); }
  const ImageDataset& data() const { return *data_; }

  // Begins `epoch` at its batch `first_batch` (a resumed epoch skips the ones already trained on);
  // batches then come from next() in order until it returns nothing.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // Throws the DataError of an image file that could not be decoded (unless skip_bad_images).
  std::optional<Batch> next();
  // Images skipped since start_epoch.
  int64_t bad_images() const { return bad_images_; }

 private:
  torch::TensorOptions host_options(torch::ScalarType type) const;
  Batch make_batch(int64_t b) const;
  Batch make_file_batch(int64_t begin, int64_t end) const;  // positions [begin, end) of order_
  void work();
  void stop_workers();

  std::shared_ptr<const ImageDataset> data_;
  std::vector<int64_t> subset_;
  LoaderOptions options_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;      // this rank's samples in epoch order
  std::vector<int64_t> positions_;  // their positions in the whole epoch: the key of their augmentation

  std::mutex mutex_;
  std::condition_variable changed_;
  int64_t next_to_make_ = 0;
  int64_t next_to_return_ = 0;
  std::map<int64_t, Batch> ready_;
  bool stopping_ = false;
  std::map<int64_t, std::string> failed_;  // batch -> error message
  mutable std::atomic<int64_t> bad_images_{0};  // counted by make_file_batch on worker threads
  std::vector<std::thread> workers_;
};

}  // namespace l2w::dataset
