#include "l2w/runtime/device.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>

#ifdef L2W_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace l2w::runtime {

torch::Device parse_device(const std::string& text) {
  std::string name = text;
  if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) name = "cuda:" + name;
  std::optional<torch::Device> device;
  try {
    device.emplace(name);
  } catch (const c10::Error&) {
    throw std::invalid_argument("'" + text + "' is not cpu or cuda[:i]");
  }
  if (device->is_cuda()) {
    if (!torch::cuda::is_available())
      throw std::invalid_argument(text + ": CUDA is not available in this build or on this machine");
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (device->has_index() && device->index() >= count)
      throw std::invalid_argument(text + ": this machine has " + std::to_string(count) + " GPU(s)");
  } else if (!device->is_cpu()) {
    throw std::invalid_argument("'" + text + "' is not cpu or cuda[:i]");
  }
  return *device;
}

#ifdef L2W_WITH_CUDA

void prepare(const torch::Device& device) {
  if (!device.is_cuda()) return;
  if (device.has_index()) c10::cuda::set_device(device.index());
  at::globalContext().setBenchmarkCuDNN(true);
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) c10::cuda::device_synchronize();
}

struct DeviceTimer::Events {
  at::cuda::CUDAEvent begin{cudaEventDefault};
  at::cuda::CUDAEvent end{cudaEventDefault};
};

DeviceTimer::DeviceTimer(const torch::Device& device) : device_(device) {
  if (device_.is_cuda()) events_ = new Events;
}

DeviceTimer::~DeviceTimer() { delete events_; }

void DeviceTimer::start() {
  if (events_ != nullptr) {
    events_->begin.record(at::cuda::getCurrentCUDAStream());
  } else {
    host_start_ = std::chrono::steady_clock::now();
  }
}

double DeviceTimer::seconds() {
  if (events_ == nullptr) return std::chrono::duration<double>(std::chrono::steady_clock::now() - host_start_).count();
  events_->end.record(at::cuda::getCurrentCUDAStream());
  events_->end.synchronize();
  return double(events_->begin.elapsed_time(events_->end)) / 1000.0;
}

double peak_memory_mb(const torch::Device& device) {
  if (device.is_cuda()) {
    const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    return double(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);  // 0: the aggregate over pools
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

void reset_peak_memory(const torch::Device& device) {
  if (!device.is_cuda()) return;
  c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : c10::cuda::current_device());
}

std::string device_name(const torch::Device& device) {
  if (!device.is_cuda()) return "cpu";
  const auto* p = at::cuda::getDeviceProperties(device.has_index() ? device.index() : c10::cuda::current_device());
  return p->name;
}

#else  // a CPU-only LibTorch

void prepare(const torch::Device&) {}
void synchronize(const torch::Device&) {}
struct DeviceTimer::Events {};
DeviceTimer::DeviceTimer(const torch::Device& device) : device_(device) {}
DeviceTimer::~DeviceTimer() = default;
void DeviceTimer::start() { host_start_ = std::chrono::steady_clock::now(); }
double DeviceTimer::seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - host_start_).count();
}
double peak_memory_mb(const torch::Device&) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}
void reset_peak_memory(const torch::Device&) {}
std::string device_name(const torch::Device&) { return "cpu"; }

#endif

double matmul_gflops(const torch::Device& device) {
  const int64_t n = device.is_cuda() ? 4096 : 2048;
  const auto a = torch::randn({n, n}, torch::TensorOptions().device(device));
  const auto b = torch::randn({n, n}, torch::TensorOptions().device(device));
  torch::mm(a, b);
  const int reps = device.is_cuda() ? 20 : 5;
  DeviceTimer timer(device);
  timer.start();
  for (int i = 0; i < reps; ++i) torch::mm(a, b);
  const double s = timer.seconds();
  return 2.0 * double(n) * double(n) * double(n) * reps / s / 1e9;
}

}  // namespace l2w::runtime
