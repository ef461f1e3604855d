// The inputs fuzzing found (test/data/fuzz/TARGET/, docs/fuzzing.md), replayed through the same targets
// on every run of the fast suite: each must now be read or refused with the reader's own error.
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "../fuzz/targets.h"

namespace l2w {
namespace {

namespace fs = std::filesystem;
const fs::path kKept = fs::path(L2W_TEST_DATA) / "fuzz";

std::vector<uint8_t> bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every kept input of `target`, through `run`: the outcome per file name.
std::map<std::string, std::string> replay(const std::string& target, std::string (*run)(const uint8_t*, size_t)) {
  std::map<std::string, std::string> outcome;
  for (const auto& entry : fs::directory_iterator(kKept / target)) {
    const auto bytes = bytes_of(entry.path());
    outcome[entry.path().filename().string()] = run(bytes.data(), bytes.size());
  }
  return outcome;
}

TEST(FuzzRegressions, IdxSizesWhoseProductOverflowsAreRefusedBeforeMultiplying) {
  const auto outcome = replay("idx", fuzz::idx);
  ASSERT_FALSE(outcome.empty());
  // Four 32-bit sizes whose product overflowed 64 bits (undefined behaviour) before it was compared with
  // the file's length.
  EXPECT_NE(outcome.at("crash-b12eb5db22e66b61708c9c883ca6493d74e56a6d").find("header promises more bytes of data"),
            std::string::npos);
}

TEST(FuzzRegressions, TorchSaveInputsReadOrAreRefused) {
  const auto outcome = replay("torch_save", fuzz::torch_save);
  ASSERT_FALSE(outcome.empty());
  // A well-formed file holding an empty tensor (torch.zeros(0)): memcpy from a null pointer (undefined
  // behaviour) before.
  EXPECT_EQ(outcome.at("crash-8bfd7f770c68234dfd1f7ccad87367b614af84d9"), "");
  // A tensor with more sizes than strides: strides were read past their end.
  EXPECT_NE(outcome.at("crash-f8ff157aac29122615c44f740d3ecc7bdc1fbefa").find("sizes but"), std::string::npos)
      << outcome.at("crash-f8ff157aac29122615c44f740d3ecc7bdc1fbefa");
}

}  // namespace
}  // namespace l2w
