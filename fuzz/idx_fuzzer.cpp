// libFuzzer target: the IDX reader (MNIST, Fashion-MNIST), plain or gzipped. Input layout and outcome: fuzz/targets.h.
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  l2w::fuzz::idx(data, size);
  return 0;
}
