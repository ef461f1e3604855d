// A labelled image set held in memory as bytes; batches are normalised to float when they are made.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace l2w::dataset {

// A data file that is missing, truncated or malformed; the message names the file.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ImageFolder;

struct ImageDataset {
  torch::Tensor images;  // uint8 [N, C, H, W]; undefined when the images are files (`folder`)
  torch::Tensor labels;  // int64 [N]
  // Images decoded from files as batches are made (ImageNet): cropped and resized to `crop` x `crop`.
  std::shared_ptr<const ImageFolder> folder;
  int64_t crop = 224;
  int64_t num_classes = 0;
  std::vector<float> mean;  // per channel, on the 0..1 scale
  std::vector<float> std;

  int64_t size() const { return labels.size(0); }
  std::vector<int64_t> image_shape() const;  // {C, H, W}
  // The first `n` samples (all of them when n <= 0 or n >= size()).
  ImageDataset first(int64_t n) const;
};

// Reads a whole file into memory; DataError naming the file when it cannot.
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace l2w::dataset
