#include "l2w/dataset/idx.h"

#include <cstring>
#include <filesystem>

#ifdef L2W_HAVE_ZLIB
#include <zlib.h>
#endif

namespace l2w::dataset {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<uint8_t> gunzip(const std::string& path) {
#ifdef L2W_HAVE_ZLIB
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw DataError(path + ": cannot open file");
  std::vector<uint8_t> out;
  uint8_t chunk[1 << 16];
  int got;
  while ((got = gzread(f, chunk, sizeof chunk)) > 0) out.insert(out.end(), chunk, chunk + got);
  int err = 0;
  const char* message = gzerror(f, &err);
  const bool ended_cleanly = got == 0 && (err == Z_OK || err == Z_STREAM_END);
  std::string why = ended_cleanly ? "" : message;
  gzclose(f);
  if (!ended_cleanly) throw DataError(path + ": corrupt or truncated gzip data (" + why + ")");
  return out;
#else
  throw DataError(path + ": l2w was built without zlib; gunzip the file first");
#endif
}

uint32_t big_endian(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::string find(const std::string& dir, const std::string& stem) {
  namespace fs = std::filesystem;
  for (const char* suffix : {"", ".gz"}) {
    auto p = fs::path(dir) / (stem + suffix);
    if (fs::exists(p)) return p.string();
  }
  throw DataError((std::filesystem::path(dir) / stem).string() + "[.gz]: missing IDX file");
}

// Checks an IDX header (unsigned bytes, `dims` dimensions) and returns its sizes.
std::vector<int64_t> parse_header(const std::string& path, const std::vector<uint8_t>& bytes, int dims) {
  const size_t header = 4 + 4 * static_cast<size_t>(dims);
  if (bytes.size() < header) throw DataError(path + ": too short for an IDX header");
  if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] != dims)
    throw DataError(path + ": not an IDX file of unsigned bytes with " + std::to_string(dims) + " dimensions");
  std::vector<int64_t> sizes;
  const uint64_t held = bytes.size() - header;
  uint64_t total = 1;
  for (int d = 0; d < dims; ++d) {
    sizes.push_back(big_endian(bytes.data() + 4 + 4 * d));
    // Four 32-bit sizes overflow 64 bits: stop as soon as the product passes what the file holds.
    const uint64_t size = static_cast<uint64_t>(sizes.back());
    if (size != 0 && total > held / size)
      throw DataError(path + ": header promises more bytes of data than the file's " + std::to_string(held) +
                      " (truncated, or not this format)");
    total *= size;
  }
  if (held != total)
    throw DataError(path + ": header promises " + std::to_string(total) + " bytes of data but the file holds " +
                    std::to_string(held) + " (truncated or padded)");
  return sizes;
}

}  // namespace

std::vector<uint8_t> read_idx_bytes(const std::string& path) {
  return ends_with(path, ".gz") ? gunzip(path) : read_file(path);
}

ImageDataset load_idx(const std::string& dir, bool train, float mean, float std) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string image_path = find(dir, prefix + "-images-idx3-ubyte");
  const std::string label_path = find(dir, prefix + "-labels-idx1-ubyte");
  const auto image_bytes = read_idx_bytes(image_path);
  const auto label_bytes = read_idx_bytes(label_path);
  const auto image_dims = parse_header(image_path, image_bytes, 3);
  const auto label_dims = parse_header(label_path, label_bytes, 1);
  if (image_dims[0] != label_dims[0])
    throw DataError(label_path + ": " + std::to_string(label_dims[0]) + " labels for " +
                    std::to_string(image_dims[0]) + " images in " + image_path);
  ImageDataset ds;
  ds.num_classes = 10;
  const int64_t n = image_dims[0];
  ds.images = torch::empty({n, 1, image_dims[1], image_dims[2]}, torch::kUInt8);
  std::memcpy(ds.images.data_ptr<uint8_t>(), image_bytes.data() + 16, ds.images.numel());
  ds.labels = torch::empty({n}, torch::kInt64);
  auto* lab = ds.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    lab[i] = label_bytes[8 + i];
    if (lab[i] >= ds.num_classes)
      throw DataError(label_path + ": label " + std::to_string(lab[i]) + " of sample " + std::to_string(i) +
                      " is outside 0..9");
  }
  ds.mean = {mean};
  ds.std = {std};
  return ds;
}

}  // namespace l2w::dataset
