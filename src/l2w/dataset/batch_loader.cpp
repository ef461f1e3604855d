#include "l2w/dataset/batch_loader.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "l2w/dataset/distributed_sampler.h"
#include "l2w/dataset/transforms.h"

#ifdef L2W_WITH_IMAGES
#include "l2w/dataset/image_folder.h"
#include "l2w/dataset/image_transforms.h"
#endif

namespace l2w::dataset {
namespace {

// SplitMix64: decorrelated seeds from (seed, epoch, position).
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

BatchLoader::BatchLoader(std::shared_ptr<const ImageDataset> data, std::vector<int64_t> subset,
                         LoaderOptions options)
    : data_(std::move(data)), subset_(std::move(subset)), options_(options) {
  if (subset_.empty()) {
    subset_.resize(data_->size());
    std::iota(subset_.begin(), subset_.end(), 0);
  }
  if (options_.batch_size() < 1) throw std::invalid_argument("batch size must be positive");
  options_.workers(std::max<int64_t>(1, options_.workers()));
  options_.prefetch(std::max<int64_t>(1, options_.prefetch()));
  if (options_.world_size() < 1 || options_.rank() < 0 || options_.rank() >= options_.world_size())
    throw std::invalid_argument("loader rank " + std::to_string(options_.rank()) + " is not in a world of " +
                                std::to_string(options_.world_size()));
}

int64_t BatchLoader::num_samples() const {
  return shard_size(static_cast<int64_t>(subset_.size()), options_.world_size(), options_.rank(),
                    options_.pad_shards());
}

BatchLoader::~BatchLoader() { stop_workers(); }

int64_t BatchLoader::num_batches() const {
  return (num_samples() + options_.batch_size() - 1) / options_.batch_size();
}

void BatchLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void BatchLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop_workers();
  epoch_ = epoch;
  std::vector<int64_t> epoch_order = subset_;
  if (options_.shuffle()) {
    std::mt19937_64 rng(mix(options_.seed() ^ mix(static_cast<uint64_t>(epoch))));
    std::shuffle(epoch_order.begin(), epoch_order.end(), rng);
  }
  Shard shard = shard_of(epoch_order, options_.world_size(), options_.rank(), options_.pad_shards());
  order_ = std::move(shard.samples);
  positions_ = std::move(shard.positions);
  ready_.clear();
  failed_.clear();
  bad_images_ = 0;
  next_to_make_ = std::clamp<int64_t>(first_batch, 0, num_batches());
  next_to_return_ = next_to_make_;
  stopping_ = false;
  for (int64_t i = 0; i < options_.workers(); ++i) workers_.emplace_back([this] { work(); });
}

void BatchLoader::work() {
  for (;;) {
    int64_t b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] {
        return stopping_ || (next_to_make_ < num_batches() && next_to_make_ < next_to_return_ + options_.prefetch());
      });
      if (stopping_) return;
      b = next_to_make_++;
    }
    Batch batch;
    std::string error;
    try {
      batch = make_batch(b);
    } catch (const DataError& e) {
      error = e.what();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error.empty()) failed_.emplace(b, error);
      ready_.emplace(b, std::move(batch));
    }
    changed_.notify_all();
  }
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (workers_.empty() || next_to_return_ >= num_batches()) return std::nullopt;
  changed_.wait(lock, [&] { return ready_.count(next_to_return_) > 0; });
  Batch batch = std::move(ready_.at(next_to_return_));
  ready_.erase(next_to_return_);
  if (auto failed = failed_.find(next_to_return_); failed != failed_.end()) {
    const std::string error = failed->second;
    lock.unlock();
    stop_workers();
    throw DataError(error);
  }
  ++next_to_return_;
  lock.unlock();
  changed_.notify_all();
  return batch;
}

torch::TensorOptions BatchLoader::host_options(torch::ScalarType type) const {
  return torch::TensorOptions().dtype(type).pinned_memory(options_.pin_memory());
}

Batch BatchLoader::make_batch(int64_t b) const {
  const int64_t begin = b * options_.batch_size();
  const int64_t end = std::min<int64_t>(begin + options_.batch_size(), num_samples());
  if (data_->folder) return make_file_batch(begin, end);
  const int64_t n = end - begin;
  const auto shape = data_->image_shape();
  const ImageGeometry g{shape[0], shape[1], shape[2]};
  Batch batch;
  batch.images = torch::empty({n, g.channels, g.height, g.width}, host_options(torch::kFloat32));
  batch.labels = torch::empty({n}, host_options(torch::kInt64));
  batch.indices = torch::empty({n}, host_options(torch::kInt64));
  const auto* pixels = data_->images.data_ptr<uint8_t>();
  const auto* labels = data_->labels.data_ptr<int64_t>();
  float* out = batch.images.data_ptr<float>();
  auto* batch_labels = batch.labels.data_ptr<int64_t>();
  auto* batch_indices = batch.indices.data_ptr<int64_t>();
  std::vector<uint8_t> scratch(g.numel());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t index = order_[begin + i];
    const uint8_t* src = pixels + index * g.numel();
    if (options_.augment()) {
      std::mt19937_64 rng(mix(options_.seed() ^ mix(static_cast<uint64_t>(epoch_) ^ mix(positions_[begin + i]))));
      random_crop_flip(src, scratch.data(), g, 4, true, rng);
      src = scratch.data();
    }
    normalize(src, out + i * g.numel(), g, data_->mean, data_->std);
    batch_labels[i] = labels[index];
    batch_indices[i] = index;
  }
  return batch;
}

Batch BatchLoader::make_file_batch(int64_t begin, int64_t end) const {
#ifdef L2W_WITH_IMAGES
  const int64_t size = data_->crop;
  const ImageGeometry g{3, size, size};
  const auto* labels = data_->labels.data_ptr<int64_t>();
  auto images = torch::empty({end - begin, 3, size, size}, host_options(torch::kFloat32));
  float* out = images.data_ptr<float>();
  std::vector<int64_t> kept_labels, kept_indices;
  std::vector<uint8_t> crop(g.numel());
  for (int64_t i = begin; i < end; ++i) {
    const int64_t index = order_[i];
    RgbImage image;
    try {
      image = decode_image(data_->folder->files.at(index));
    } catch (const DataError&) {
      if (!options_.skip_bad_images()) throw;
      ++bad_images_;
      continue;
    }
    if (options_.augment()) {
      std::mt19937_64 rng(mix(options_.seed() ^ mix(static_cast<uint64_t>(epoch_) ^ mix(positions_[i]))));
      const auto box = random_resized_crop_box(image.height, image.width, rng);
      resized_crop(image, box, size, std::bernoulli_distribution(0.5)(rng), crop.data());
    } else {
      resize_center_crop(image, size * 256 / 224, size, crop.data());
    }
    normalize(crop.data(), out + static_cast<int64_t>(kept_labels.size()) * g.numel(), g, data_->mean, data_->std);
    kept_labels.push_back(labels[index]);
    kept_indices.push_back(index);
  }
  Batch batch;
  batch.images = images.slice(0, 0, static_cast<int64_t>(kept_labels.size()));  // skipped files leave no row
  batch.labels = torch::tensor(kept_labels, torch::kInt64);
  batch.indices = torch::tensor(kept_indices, torch::kInt64);
  if (options_.pin_memory()) {
    batch.labels = batch.labels.pin_memory();
    batch.indices = batch.indices.pin_memory();
  }
  return batch;
#else
  (void)begin, (void)end;
  throw DataError(data_->folder ? "image files: l2w was built without JPEG/PNG support (L2W_WITH_IMAGES)" : "");
#endif
}

}  // namespace l2w::dataset
