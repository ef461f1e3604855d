// libFuzzer target: the CIFAR-10 and CIFAR-100 binary readers. Input layout and outcome: fuzz/targets.h.
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  l2w::fuzz::cifar(data, size);
  return 0;
}
