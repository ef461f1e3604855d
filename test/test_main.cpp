#include <cstdlib>

#include <gtest/gtest.h>
#include <torch/torch.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // Fixed, so that results are the same on every machine (LibTorch's default thread count differs between
  // machines): 2, or OMP_NUM_THREADS where scripts/test.sh shares the cores among tests run side by side.
  const char* threads = std::getenv("OMP_NUM_THREADS");
  at::set_num_threads(threads != nullptr && std::atoi(threads) > 0 ? std::atoi(threads) : 2);
  return RUN_ALL_TESTS();
}
