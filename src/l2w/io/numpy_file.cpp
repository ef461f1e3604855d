#include "l2w/io/numpy_file.h"
#include "l2w/runtime/atomic_file.h"

#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>

namespace l2w::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct DtypeName {
  torch::ScalarType type;
  const char* descr;
};
constexpr DtypeName kDtypes[] = {{torch::kFloat32, "<f4"}, {torch::kFloat64, "<f8"}, {torch::kInt32, "<i4"},
                                 {torch::kInt64, "<i8"},   {torch::kUInt8, "|u1"},   {torch::kBool, "|b1"}};

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw std::runtime_error(path + ": " + why);
}

}  // namespace

void write_npy(const std::string& path, const torch::Tensor& tensor) {
  const auto t = tensor.detach().to(torch::kCPU).contiguous();
  const char* descr = nullptr;
  for (const auto& d : kDtypes)
    if (d.type == t.scalar_type()) descr = d.descr;
  if (!descr) fail(path, std::string("no .npy type for ") + c10::toString(t.scalar_type()));

  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += std::to_string(t.size(i)) + (t.dim() == 1 ? "," : i + 1 < t.dim() ? ", " : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic, version and length take 10 bytes; the header pads with spaces to a multiple of 64 and ends in '\n'.
  const size_t total = ((10 + header.size() + 1 + 63) / 64) * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';

  std::string out(kMagic, kMagicSize);
  const uint16_t length = static_cast<uint16_t>(header.size());
  const unsigned char version_and_length[4] = {1, 0, static_cast<unsigned char>(length & 0xff),
                                               static_cast<unsigned char>(length >> 8)};
  out.append(reinterpret_cast<const char*>(version_and_length), 4);
  out += header;
  out.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  runtime::write_file_atomically(path, out);
}

torch::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open");
  char magic[kMagicSize];
  unsigned char version_and_length[4];
  if (!in.read(magic, kMagicSize) || std::memcmp(magic, kMagic, kMagicSize) != 0) fail(path, "not a .npy file");
  if (!in.read(reinterpret_cast<char*>(version_and_length), 4) || version_and_length[0] != 1)
    fail(path, "only .npy version 1.0 is read");
  std::string header(version_and_length[2] | (version_and_length[3] << 8), '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header.size()))) fail(path, "truncated header");

  const auto field = [&](const std::string& key) {
    const auto at = header.find("'" + key + "':");
    if (at == std::string::npos) fail(path, "header lacks '" + key + "'");
    return at + key.size() + 3;
  };
  if (header.compare(field("fortran_order"), 6, " False") != 0) fail(path, "Fortran order is not read");
  const auto descr_at = header.find('\'', field("descr")) + 1;
  const auto descr = header.substr(descr_at, header.find('\'', descr_at) - descr_at);
  std::optional<torch::ScalarType> type;
  for (const auto& d : kDtypes)
    if (descr == d.descr) type = d.type;
  if (!type) fail(path, "unsupported dtype '" + descr + "'");

  std::vector<int64_t> shape;
  const auto open = header.find('(', field("shape"));
  const auto close = header.find(')', open);
  if (open == std::string::npos || close == std::string::npos) fail(path, "bad shape");
  std::string dims = header.substr(open + 1, close - open - 1);
  for (size_t pos = 0; pos < dims.size();) {
    const auto comma = dims.find(',', pos);
    const auto item = dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(item));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  auto tensor = torch::empty(shape, torch::TensorOptions().dtype(*type));
  if (!in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(tensor.nbytes())))
    fail(path, "truncated data: expected " + std::to_string(tensor.nbytes()) + " bytes");
  return tensor;
}

}  // namespace l2w::io
