// libFuzzer target: the torch.save reader (checkpoints are often downloaded from strangers). Input layout and outcome: fuzz/targets.h.
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  l2w::fuzz::torch_save(data, size);
  return 0;
}
