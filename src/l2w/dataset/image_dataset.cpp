#include "l2w/dataset/image_dataset.h"

#include <fstream>
#include <iterator>

namespace l2w::dataset {

std::vector<int64_t> ImageDataset::image_shape() const {
  if (!images.defined()) return {3, crop, crop};  // decoded from files to RGB crops
  return {images.size(1), images.size(2), images.size(3)};
}

ImageDataset ImageDataset::first(int64_t n) const {
  if (n <= 0 || n >= size()) return *this;
  ImageDataset out = *this;
  if (images.defined()) out.images = images.slice(0, 0, n).contiguous();
  out.labels = labels.slice(0, 0, n).contiguous();
  return out;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError(path + ": read error");
  return bytes;
}

}  // namespace l2w::dataset
