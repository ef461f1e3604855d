// Where a stretch of LibTorch work spends its time, operator by operator: LibTorch's own profiler
// (Kineto), summarised by self time, the time inside an operator less the operators it called.
#pragma once

#include <string>
#include <vector>

namespace l2w::runtime {

struct OperatorTime {
  std::string name;  // aten::convolution_backward, aten::cat, ...
  double self_ms = 0;
  int64_t calls = 0;
};

// Profiles the host-side operators from construction to stop() (CPU activity; on a GPU this is the
// launch side, not the kernels). One at a time per process.
class OperatorProfile {
 public:
  OperatorProfile();
  ~OperatorProfile();
  OperatorProfile(const OperatorProfile&) = delete;
  OperatorProfile& operator=(const OperatorProfile&) = delete;

  // The operators by self time, largest first.
  std::vector<OperatorTime> stop();

 private:
  bool running_ = false;
};

}  // namespace l2w::runtime
