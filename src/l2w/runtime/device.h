// The compute device: choosing it, waiting for it, timing on it and its memory. CUDA builds use CUDA
// events and the caching allocator's statistics; everything also works, with host clocks, on the CPU.
#pragma once

#include <chrono>
#include <string>

#include <torch/torch.h>

namespace l2w::runtime {

// "cpu", "cuda", "cuda:i" or a bare GPU index "i" (the reference's --gpu). Throws std::invalid_argument
// naming the text when it is none of these or when the GPU is not there.
torch::Device parse_device(const std::string& name);

// Per-run settings for `device`: on CUDA, convolution algorithms chosen by benchmarking (l2w's input
// shapes are fixed within a run) and the current device set.
void prepare(const torch::Device& device);

// Waits for the work queued on `device` (nothing to wait for on the CPU).
void synchronize(const torch::Device& device);

// Elapsed time of the work queued on a device between start() and seconds(): CUDA events on the
// current stream for a GPU (no host-side synchronisation inside the timed region), the steady clock on
// the CPU.
class DeviceTimer {
 public:
  explicit DeviceTimer(const torch::Device& device);
  ~DeviceTimer();
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;
  void start();
  // Waits for the work queued since start() and returns its duration.
  double seconds();

 private:
  struct Events;
  torch::Device device_;
  std::chrono::steady_clock::time_point host_start_;
  Events* events_ = nullptr;  // CUDA only
};

// Peak memory in MB: the device allocator's peak for a GPU (since the last reset), else the process's
// peak resident set.
double peak_memory_mb(const torch::Device& device);
void reset_peak_memory(const torch::Device& device);

// "NVIDIA H100 80GB HBM3" for a GPU, "cpu" otherwise.
std::string device_name(const torch::Device& device);

// The device's float32 matrix-product rate in GFLOP/s (a 2048² product, 4096² on a GPU), measured now:
// benchmark figures from different machines compare as ratios to it.
double matmul_gflops(const torch::Device& device);

}  // namespace l2w::runtime
