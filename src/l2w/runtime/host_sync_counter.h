// Counts the operators that make the host wait for the device (docs/gpu.md, "A step that never waits"):
// reads of a scalar (item()), nonzero and masked_select (their output size is data), tests of a tensor's
// truth or equality, and moves of a tensor to the CPU. An operator observer sees them on any device, so a
// CPU run shows what a GPU run would wait for; on a CPU run every explicit move to the CPU counts, since
// on a GPU it would be a copy to the host. What it cannot see: raw data_ptr reads, which are not operators.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <ATen/record_function.h>

namespace l2w::runtime {

class HostSyncCounter {
 public:
  // Starts counting on every thread (LibTorch's autograd threads included).
  HostSyncCounter();
  ~HostSyncCounter();
  HostSyncCounter(const HostSyncCounter&) = delete;
  HostSyncCounter& operator=(const HostSyncCounter&) = delete;

  int64_t count() const;
  // Counts by operator name, for a message that says which ones happened.
  std::map<std::string, int64_t> by_operator() const;
  // "none", or "aten::nonzero x2, aten::_local_scalar_dense x1".
  std::string summary() const;

 private:
  at::CallbackHandle handle_;
};

}  // namespace l2w::runtime
