#include <gtest/gtest.h>
#include <torch/torch.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Fixed, so that results are the same on every machine (SPEC §8: LibTorch starts with one thread).
  at::set_num_threads(2);
  return RUN_ALL_TESTS();
}
