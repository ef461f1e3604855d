// libFuzzer target: the thresholds file (deployment reads it). Input layout and outcome: fuzz/targets.h.
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  l2w::fuzz::thresholds(data, size);
  return 0;
}
