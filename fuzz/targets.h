// What each fuzz target does with one input, shared by the libFuzzer harnesses (fuzz/*_fuzzer.cpp) and
// the replay of kept inputs in the fast suite (test/fuzz_regressions_test.cpp). Each returns the reader's
// error message for a refused input, or "" for one it read; any other exception, crash, hang or huge
// allocation is a finding.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "l2w/dataset/cifar.h"
#include "l2w/dataset/idx.h"
#include "l2w/io/state_dict.h"
#include "l2w/io/thresholds_file.h"
#include "l2w/io/torch_save_reader.h"

namespace l2w::fuzz {

// The readers take paths, as l2w uses them: inputs go to files of a folder of this process's own.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    auto p = std::filesystem::temp_directory_path() / ("l2w_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p.string();
  }();
  return dir;
}

inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
  return path;
}

// The reader's message if `read` refuses the input with `Error`, "" if it reads it.
template <class Error, class Read>
std::string refusal(Read&& read) {
  try {
    read();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The whole input is a torch.save file.
inline std::string torch_save(const uint8_t* data, size_t size) {
  return refusal<io::CheckpointError>([&] { io::read_torch_save(write_input("checkpoint.pth.tar", data, size)); });
}

// The first two bytes (big endian) give the length of an IDX image file, plain or gzipped; its label file
// is the rest.
inline std::string idx(const uint8_t* data, size_t size) {
  if (size < 2) return "too short";
  const size_t images = std::min<size_t>(size - 2, size_t(data[0]) << 8 | data[1]);
  write_input("t10k-images-idx3-ubyte", data + 2, images);
  write_input("t10k-labels-idx1-ubyte", data + 2 + images, size - 2 - images);
  return refusal<dataset::DataError>([] { dataset::load_idx(scratch_dir(), /*train=*/false, 0.5f, 0.25f); });
}

// The first byte's lowest bit picks CIFAR-100 or CIFAR-10; the rest is its test file.
inline std::string cifar(const uint8_t* data, size_t size) {
  if (size < 1) return "too short";
  const bool hundred = data[0] & 1;
  write_input(hundred ? "test.bin" : "test_batch.bin", data + 1, size - 1);
  std::filesystem::remove(scratch_dir() + (hundred ? "/test_batch.bin" : "/test.bin"));
  return refusal<dataset::DataError>([&] { dataset::load_cifar(scratch_dir(), hundred ? 100 : 10, /*train=*/false); });
}

// The whole input is a thresholds file.
inline std::string thresholds(const uint8_t* data, size_t size) {
  return refusal<std::runtime_error>([&] { io::read_thresholds(write_input("thresholds.txt", data, size)); });
}

}  // namespace l2w::fuzz
