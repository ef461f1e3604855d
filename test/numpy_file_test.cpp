#include <fstream>

#include <gtest/gtest.h>

#include "l2w/io/numpy_file.h"
#include "test_util.h"

namespace l2w {
namespace {

TEST(NumpyFile, HeaderIsNumpysAndDataRoundTrips) {
  const auto dir = test::temp_dir("npy");
  const auto probs = torch::rand({3, 5, 10});
  io::write_npy(dir + "/p.npy", probs);
  std::ifstream in(dir + "/p.npy", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 128u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  EXPECT_EQ((10 + header) % 64, 0u);  // numpy aligns the data
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5, 10), }";
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes[10 + header - 1], '\n');
  EXPECT_EQ(bytes.size(), 10 + header + 3 * 5 * 10 * 4);
  EXPECT_TRUE(torch::equal(io::read_npy(dir + "/p.npy"), probs));

  const auto labels = torch::arange(7, torch::kLong);
  io::write_npy(dir + "/l.npy", labels);
  const auto back = io::read_npy(dir + "/l.npy");
  EXPECT_EQ(back.scalar_type(), torch::kLong);
  EXPECT_EQ(back.sizes(), torch::IntArrayRef({7}));
  EXPECT_TRUE(torch::equal(back, labels));
}

TEST(NumpyFile, TruncatedAndForeignFilesAreRefused) {
  const auto dir = test::temp_dir("npy_bad");
  io::write_npy(dir + "/p.npy", torch::rand({4, 4}));
  std::filesystem::resize_file(dir + "/p.npy", std::filesystem::file_size(dir + "/p.npy") - 4);
  EXPECT_THROW(io::read_npy(dir + "/p.npy"), std::runtime_error);
  std::ofstream(dir + "/x.npy") << "not numpy";
  EXPECT_THROW(io::read_npy(dir + "/x.npy"), std::runtime_error);
}

}  // namespace
}  // namespace l2w
