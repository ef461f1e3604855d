// Helpers shared by the tests: small networks and temporary folders.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "l2w/models/msdnet.h"
#include "l2w/models/ranet.h"

namespace l2w::test {

// The tiny CIFAR-10 MSDNet of the cost vectors (nBlocks 3, lin_grow, step 1, base 1, nChannels 8, growthRate 4).
inline models::MSDNetOptions tiny_msdnet(int64_t in_channels = 3, int64_t classes = 10) {
  return models::MSDNetOptions()
      .n_blocks(3)
      .n_channels(8)
      .growth_rate(4)
      .step_mode(models::StepMode::kLinGrow)
      .step(1)
      .base(1)
      .gr_factor({1, 2, 4})
      .bn_factor({1, 2, 4})
      .in_channels(in_channels)
      .num_classes(classes);
}

// A very small MSDNet for 3 classes on 16x16 images: quick enough for float64 finite differences.
inline models::MSDNetOptions micro_msdnet() {
  return models::MSDNetOptions()
      .n_blocks(2)
      .n_channels(4)
      .growth_rate(2)
      .base(1)
      .step(1)
      .gr_factor({1, 2})
      .bn_factor({1, 2})
      .num_classes(3)
      .in_channels(1);
}

// A small RANet for quick checks: three flows, two layers per block.
inline models::RANetOptions small_ranet(int64_t in_channels = 3, int64_t classes = 10) {
  return models::RANetOptions()
      .n_blocks(1)
      .block_step(1)
      .n_channels(4)
      .growth_rate(4)
      .step(2)
      .scale_list({1, 2, 3})
      .gr_factor({4, 2, 1})
      .bn_factor({4, 2, 1})
      .in_channels(in_channels)
      .num_classes(classes);
}

// A fresh empty folder under the system's temporary directory.
inline std::string temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("l2w_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace l2w::test
