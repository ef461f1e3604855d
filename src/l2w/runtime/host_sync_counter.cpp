#include "l2w/runtime/host_sync_counter.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <sstream>

namespace l2w::runtime {
namespace {

std::mutex counts_mutex;
std::map<std::string, int64_t> counts;

// Nesting inside a counted operator on this thread: masked_select calls nonzero on a GPU, item calls
// _local_scalar_dense; the outermost one is the synchronisation.
thread_local int inside_counted = 0;

// Marks a counted operator for the end callback (ObserverContext's constructor is protected).
struct Counted : at::ObserverContext {};

bool targets_cpu(const c10::IValue& v) { return v.isDevice() && v.toDevice().is_cpu(); }

bool waits_for_device(const at::RecordFunction& fn) {
  const char* name = fn.name();
  for (const char* op : {"aten::_local_scalar_dense", "aten::item", "aten::nonzero", "aten::masked_select",
                         "aten::is_nonzero", "aten::equal", "aten::allclose", "aten::cpu"}) {
    if (std::strcmp(name, op) == 0) return true;
  }
  const auto inputs = fn.inputs();
  if (std::strcmp(name, "aten::to") == 0 && inputs.size() > 1) {
    const bool from_device = inputs[0].isTensor() && !inputs[0].toTensor().is_cpu();
    if (inputs[1].isTensor()) return from_device && inputs[1].toTensor().is_cpu();  // to(other, ...)
    // to(device, dtype, ...) and to(dtype = none, layout, device = cpu, ...), as .cpu(), .to(kCPU) and
    // .to(kCPU, dtype) call them: explicit moves to the CPU, counted on a CPU run too. to(dtype, layout,
    // device, ...) with a dtype is also what .to(other.options()) calls, naming a tensor's own device:
    // counted only when it leaves a device.
    if (inputs[1].isDevice()) return inputs[1].toDevice().is_cpu();
    const bool to_cpu = std::any_of(inputs.begin() + 2, inputs.end(), targets_cpu);
    return to_cpu && (from_device || inputs[1].isNone());
  }
  if (std::strcmp(name, "aten::copy_") == 0 && inputs.size() >= 2 && inputs[0].isTensor() && inputs[1].isTensor())
    return inputs[0].toTensor().is_cpu() && !inputs[1].toTensor().is_cpu();
  return false;
}

}  // namespace

HostSyncCounter::HostSyncCounter() {
  {
    std::lock_guard<std::mutex> lock(counts_mutex);
    counts.clear();
  }
  auto start = [](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
    if (!waits_for_device(fn)) return nullptr;
    if (inside_counted++ == 0) {
      std::lock_guard<std::mutex> lock(counts_mutex);
      ++counts[fn.name()];
    }
    return std::make_unique<Counted>();
  };
  auto end = [](const at::RecordFunction&, at::ObserverContext* counted) {
    if (counted != nullptr) --inside_counted;
  };
  handle_ = at::addGlobalCallback(at::RecordFunctionCallback(start, end).needsInputs(true));
}

HostSyncCounter::~HostSyncCounter() { at::removeCallback(handle_); }

int64_t HostSyncCounter::count() const {
  int64_t total = 0;
  for (const auto& [name, n] : by_operator()) total += n;
  return total;
}

std::map<std::string, int64_t> HostSyncCounter::by_operator() const {
  std::lock_guard<std::mutex> lock(counts_mutex);
  return counts;
}

std::string HostSyncCounter::summary() const {
  std::ostringstream s;
  for (const auto& [name, n] : by_operator()) s << (s.tellp() > 0 ? ", " : "") << name << " x" << n;
  return s.tellp() > 0 ? s.str() : "none";
}

}  // namespace l2w::runtime
