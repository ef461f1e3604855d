#include "l2w/dataset/cifar.h"

#include <cstring>
#include <filesystem>

namespace l2w::dataset {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

std::string locate(const std::string& dir, const std::string& subdir, const std::string& file) {
  namespace fs = std::filesystem;
  if (fs::exists(fs::path(dir) / file)) return (fs::path(dir) / file).string();
  if (fs::exists(fs::path(dir) / subdir / file)) return (fs::path(dir) / subdir / file).string();
  throw DataError((fs::path(dir) / file).string() + ": missing CIFAR file (also looked in " + subdir + "/)");
}

}  // namespace

ImageDataset load_cifar(const std::string& dir, int num_classes, bool train) {
  if (num_classes != 10 && num_classes != 100) throw std::invalid_argument("CIFAR has 10 or 100 classes");
  std::vector<std::string> files;
  std::string subdir = num_classes == 10 ? "cifar-10-batches-bin" : "cifar-100-binary";
  if (num_classes == 10) {
    if (train) {
      for (int i = 1; i <= 5; ++i) files.push_back(locate(dir, subdir, "data_batch_" + std::to_string(i) + ".bin"));
    } else {
      files.push_back(locate(dir, subdir, "test_batch.bin"));
    }
  } else {
    files.push_back(locate(dir, subdir, train ? "train.bin" : "test.bin"));
  }
  const int64_t label_bytes = num_classes == 10 ? 1 : 2;
  const int64_t record = label_bytes + kPixels;

  std::vector<std::vector<uint8_t>> contents;
  int64_t n = 0;
  for (const auto& f : files) {
    contents.push_back(read_file(f));
    const auto size = static_cast<int64_t>(contents.back().size());
    if (size == 0 || size % record != 0)
      throw DataError(f + ": " + std::to_string(size) + " bytes is not a whole number of " +
                      std::to_string(record) + "-byte CIFAR-" + std::to_string(num_classes) +
                      " records (truncated or not this format)");
    n += size / record;
  }
  ImageDataset ds;
  ds.num_classes = num_classes;
  ds.images = torch::empty({n, 3, 32, 32}, torch::kUInt8);
  ds.labels = torch::empty({n}, torch::kInt64);
  auto* img = ds.images.data_ptr<uint8_t>();
  auto* lab = ds.labels.data_ptr<int64_t>();
  int64_t i = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const auto& bytes = contents[f];
    for (size_t off = 0; off < bytes.size(); off += record, ++i) {
      const int64_t label = bytes[off + label_bytes - 1];  // CIFAR-100: the fine label comes second
      if (label >= num_classes)
        throw DataError(files[f] + ": record " + std::to_string(off / record) + " has label " +
                        std::to_string(label) + ", outside 0.." + std::to_string(num_classes - 1));
      lab[i] = label;
      std::memcpy(img + i * kPixels, bytes.data() + off + label_bytes, kPixels);
    }
  }
  if (num_classes == 10) {
    ds.mean = {0.4914f, 0.4824f, 0.4467f};
    ds.std = {0.2471f, 0.2435f, 0.2616f};
  } else {
    ds.mean = {0.5071f, 0.4867f, 0.4408f};
    ds.std = {0.2675f, 0.2565f, 0.2761f};
  }
  return ds;
}

}  // namespace l2w::dataset
