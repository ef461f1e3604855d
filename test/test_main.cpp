#include <gtest/gtest.h>
#include <torch/torch.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Fixed, so that results are the same on every machine (LibTorch's default thread count differs between machines).
  at::set_num_threads(2);
  return RUN_ALL_TESTS();
}
