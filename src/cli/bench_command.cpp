#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "l2w/models/exit_cost.h"

namespace l2w::cli {
namespace {

using Clock = std::chrono::steady_clock;

// This machine's float32 matrix-product rate (GFLOP/s) for a 2048² product.
double matmul_gflops() {
  const auto a = torch::randn({2048, 2048});
  const auto b = torch::randn({2048, 2048});
  torch::mm(a, b);
  const int reps = 5;
  const auto start = Clock::now();
  for (int i = 0; i < reps; ++i) torch::mm(a, b);
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  return 2.0 * 2048.0 * 2048.0 * 2048.0 * reps / s / 1e9;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

// Images per second of `iterations` training steps after three warm-up steps.
double training_rate(train::TrainStep& step, const torch::Tensor& images, const torch::Tensor& labels,
                     int64_t iterations, const torch::Device& device) {
  for (int i = 0; i < 3; ++i) step.run(images, labels, {0, i});
  const auto start = Clock::now();
  for (int64_t i = 0; i < iterations; ++i) step.run(images, labels, {0, 3 + i});
  if (device.is_cuda()) torch::cuda::synchronize();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return double(images.size(0) * iterations) / seconds;
}

}  // namespace

int bench_command(const Flags& flags, const std::string& what) {
  const torch::Device device = setup_runtime(flags);
  const auto geometry = dataset::geometry(flags.data);
  const auto options = network_options(flags, geometry);
  auto net = build_network(flags, options);
  const auto costs = models::exit_costs(*net, {geometry.channels, geometry.height, geometry.width});
  net->to(device);
  net->train();
  train::Sgd sgd(net->parameters(), trainer_options(flags, device).sgd);
  std::unique_ptr<train::TrainStep> step = step_factory(flags)(*net, sgd);
  // Synthetic input: the benchmark measures compute, not data.
  const auto images = torch::randn({flags.batch_size, geometry.channels, geometry.height, geometry.width}).to(device);
  const auto labels = torch::randint(geometry.num_classes, {flags.batch_size}, torch::kLong).to(device);
  std::cout << "bench " << what << ": " << models::describe(options) << "\n  method " << flags.method << ", batch "
            << flags.batch_size << ", " << at::get_num_threads() << " threads, device " << device << std::endl;
  const double images_per_s = training_rate(*step, images, labels, flags.bench_iterations, device);
  const double rss = peak_rss_mb();
  // Training costs about three forward passes (forward, input gradients, weight gradients).
  const double gflops = 3.0 * double(costs.back().muladds) * 2.0 * images_per_s / 1e9;
  const double peak = matmul_gflops();
  std::printf("images/s            %.1f\n", images_per_s);
  std::printf("achieved GFLOP/s    %.1f  (3 x forward MUL-ADDs x 2 FLOP, %.2f M MUL-ADDs per image)\n", gflops,
              double(costs.back().muladds) / 1e6);
  std::printf("matmul GFLOP/s      %.1f  (2048^2 float32 product, this run)\n", peak);
  std::printf("fraction of matmul  %.3f\n", gflops / peak);
  std::printf("peak resident MB    %.0f\n", rss);
  if (flags.method == "l2w" && flags.meta_grad == "fd") {
    // The baseline in the same process, after fd, so that the peak above is fd's own.
    Flags exact_flags = flags;
    exact_flags.meta_grad = "exact";
    auto exact = step_factory(exact_flags)(*net, sgd);
    const double exact_rate = training_rate(*exact, images, labels, flags.bench_iterations, device);
    std::printf("exact images/s      %.1f  (--meta_grad exact, same run)\n", exact_rate);
    std::printf("speed-up fd/exact   %.2f\n", images_per_s / exact_rate);
    std::printf("exact peak MB       %.0f  (process peak after the exact steps)\n", peak_rss_mb());
  }
  return 0;
}

}  // namespace l2w::cli
