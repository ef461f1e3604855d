#include <chrono>
#include <cstdio>
#include <iostream>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "command_support.h"
#include "commands.h"
#include "l2w/train/learner.h"
#include "training_flags.h"
#include "l2w/dataset/transforms.h"
#include "l2w/models/exit_cost.h"
#include "l2w/runtime/device.h"
#include "l2w/runtime/host_sync_counter.h"
#include "l2w/train/cuda_graph_step.h"
#include "l2w/runtime/operator_profile.h"

#ifdef L2W_WITH_IMAGES
#include "l2w/dataset/image_decoding.h"
#include "l2w/dataset/image_transforms.h"
#endif

namespace l2w::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchTrainFlags {
  TrainFlags training;
  int64_t iterations = 20;
  int64_t profile = 0;  // steps profiled per operator after the timed ones; 0: none
};

struct BenchDataFlags {
  runtime::RuntimeOptions runtime;
  int64_t iterations = 20;
  uint64_t seed = 0;
};

// Images per second of `iterations` training steps after three warm-up steps.
double training_rate(train::TrainStep& step, const torch::Tensor& images, const torch::Tensor& labels,
                     int64_t iterations, const torch::Device& device) {
  for (int i = 0; i < 3; ++i) step.run(images, labels, {i});
  runtime::synchronize(device);
  const auto start = Clock::now();
  for (int64_t i = 0; i < iterations; ++i) step.run(images, labels, {3 + i});
  runtime::synchronize(device);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return double(images.size(0) * iterations) / seconds;
}

// The same step captured as CUDA graphs, timed after every kind of iteration has been captured, in the
// same run as the eager figure.
void compare_with_graphs(std::unique_ptr<train::TrainStep> step, const torch::Tensor& images,
                         const torch::Tensor& labels, int64_t iterations, int64_t meta_interval,
                         const torch::Device& device, double eager_rate) {
  train::CudaGraphStep graphed(std::move(step));
  runtime::reset_peak_memory(device);
  for (int64_t i = 0; i < 5 * std::max<int64_t>(1, meta_interval); ++i) graphed.run(images, labels, {i});
  if (!graphed.refused().empty()) {
    std::printf("CUDA graphs        refused: %s\n", graphed.refused().c_str());
    return;
  }
  const double rate = training_rate(graphed, images, labels, iterations, device);
  std::printf("graphs images/s     %.1f  (CUDA graphs, same run; %.2fx eager; capture %.2f s; peak GPU memory MB %.0f)\n",
              rate, rate / eager_rate, graphed.capture_seconds(), runtime::peak_memory_mb(device));
}

// Operators that make the host wait for the device in one step, counted by an operator observer (so on
// the CPU as on a GPU): a meta iteration and, when meta steps are not every iteration, a real-only one.
void print_host_syncs(train::TrainStep& step, const torch::Tensor& images, const torch::Tensor& labels,
                      int64_t meta_interval, const torch::Device& device) {
  auto count = [&](int64_t iteration) {
    runtime::HostSyncCounter counter;
    step.run(images, labels, {iteration});
    runtime::synchronize(device);
    return std::make_pair(counter.count(), counter.summary());
  };
  const int64_t first = 1000 * meta_interval;  // a meta iteration
  const auto meta = count(first);
  const auto other = meta_interval > 1 ? count(first + 1) : meta;
  std::printf("host synchronisations per iteration: %lld", static_cast<long long>(std::max(meta.first, other.first)));
  if (step.has_meta() && meta_interval > 1)
    std::printf("  (meta iteration %lld: %s; other iterations %lld: %s)", static_cast<long long>(meta.first),
                meta.second.c_str(), static_cast<long long>(other.first), other.second.c_str());
  else if (meta.first > 0)
    std::printf("  (%s)", meta.second.c_str());
  std::printf("\n");
}

#ifdef L2W_WITH_IMAGES
// Photograph-like test images: smooth colour fields with texture and noise, so that JPEG keeps about as
// many coefficients as it does for a real photograph of that size.
dataset::RgbImage textured_image(int64_t h, int64_t w, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> phase(0, 6.283);
  std::normal_distribution<double> noise(0, 12);
  const double a = phase(rng), b = phase(rng);
  dataset::RgbImage image{h, w, std::vector<uint8_t>(static_cast<size_t>(h * w * 3))};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const double v = 128 + 60 * std::sin(0.021 * x * (c + 1) + a) * std::cos(0.017 * y + b * c) +
                         30 * std::sin(0.31 * x + 0.27 * y + c) + noise(rng);
        image.pixels[(y * w + x) * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
  return image;
}

// Decoded-and-augmented images per second per thread on ImageNet-sized JPEGs (500x375, quality 90).
int bench_data(const BenchDataFlags& flags) {
  const auto dir = std::filesystem::temp_directory_path() / ("l2w_bench_data_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::string> files;
  uintmax_t bytes = 0;
  for (int i = 0; i < 64; ++i) {
    files.push_back((dir / ("image_" + std::to_string(i) + ".jpg")).string());
    dataset::write_jpeg(files.back(), textured_image(375, 500, i), 90);
    bytes += std::filesystem::file_size(files.back());
  }
  const std::vector<float> mean{0.485f, 0.456f, 0.406f}, std{0.229f, 0.224f, 0.225f};
  const dataset::ImageGeometry g{3, 224, 224};
  std::vector<uint8_t> crop(g.numel());
  std::vector<float> out(g.numel());
  const int passes = std::max<int64_t>(1, flags.iterations / 4);
  auto rate = [&](bool train) {
    std::mt19937_64 rng(flags.seed);
    const auto start = Clock::now();
    for (int p = 0; p < passes; ++p)
      for (const auto& f : files) {
        const auto image = dataset::decode_image(f);
        if (train) {
          const auto box = dataset::random_resized_crop_box(image.height, image.width, rng);
          dataset::resized_crop(image, box, 224, std::bernoulli_distribution(0.5)(rng), crop.data());
        } else {
          dataset::resize_center_crop(image, 256, 224, crop.data());
        }
        dataset::normalize(crop.data(), out.data(), g, mean, std);
      }
    return double(passes * files.size()) / std::chrono::duration<double>(Clock::now() - start).count();
  };
  auto decode_only = [&] {
    const auto start = Clock::now();
    for (int p = 0; p < passes; ++p)
      for (const auto& f : files) dataset::decode_image(f);
    return double(passes * files.size()) / std::chrono::duration<double>(Clock::now() - start).count();
  };
  std::printf("bench data: %zu JPEGs of 500x375, quality 90 (%.0f KB on average), %d passes, one thread\n",
              files.size(), double(bytes) / files.size() / 1024.0, passes);
  std::printf("decode only            %.1f images/s\n", decode_only());
  std::printf("train augmentation     %.1f images/s per thread (decode, RandomResizedCrop 224, flip, normalise)\n",
              rate(true));
  std::printf("eval transform         %.1f images/s per thread (decode, resize 256, centre 224, normalise)\n",
              rate(false));
  std::filesystem::remove_all(dir);
  return 0;
}
#endif

// The configuration line: what is measured, where, with which LibTorch.
void print_bench_header(const TrainFlags& flags, const models::NetworkOptions& options, const torch::Device& device,
                        int64_t world) {
  std::cout << "bench train: " << models::describe(options) << "\n  method " << meta::method_name(flags.method.method())
            << (flags.method.method() == meta::Method::kL2W ? " (--meta_grad " + meta::meta_grad_name(flags.method.meta().meta_grad()) + ")" : std::string())
            << ", batch " << flags.common.run.batch_size() << ", amp " << runtime::amp_name(flags.common.run.amp()) << ", LibTorch " << TORCH_VERSION << ", "
            << at::get_num_threads() << " intra-op threads, device " << device << " (" << runtime::device_name(device)
            << ")"
            << (world > 1 ? ", " + std::to_string(world) + " processes of batch " + std::to_string(flags.common.run.batch_size() / world)
                          : std::string())
            << std::endl;
}

// The fd meta gradient's baseline in the same process, after fd, so that the peak printed before is fd's own.
void compare_with_exact(const BenchTrainFlags& flags, models::MultiExitNetworkImpl& net, train::Sgd& sgd,
                        const torch::Tensor& images, const torch::Tensor& labels, const torch::Device& device,
                        double fd_rate) {
  TrainFlags exact_flags = flags.training;
  exact_flags.method.meta().meta_grad(meta::MetaGrad::kExact);
  auto exact = meta::make_step(method_options(exact_flags), net, sgd);
  runtime::reset_peak_memory(device);
  const double exact_rate = training_rate(*exact, images, labels, flags.iterations, device);
  std::printf("exact images/s      %.1f  (--meta_grad exact, same run)\n", exact_rate);
  std::printf("speed-up fd/exact   %.2f\n", fd_rate / exact_rate);
  std::printf("exact peak MB       %.0f  (%s)\n", runtime::peak_memory_mb(device),
              device.is_cuda() ? "GPU peak of the exact steps" : "process peak after the exact steps");
}

// Self time per operator over `steps` more steps (run after the timed ones, so that nothing is first-time).
void print_operator_profile(train::TrainStep& step, const torch::Tensor& images, const torch::Tensor& labels,
                            int64_t steps, const torch::Device& device) {
  std::vector<runtime::OperatorTime> ops;
  double wall_ms = 0;
  {
    runtime::OperatorProfile profile;
    const auto start = Clock::now();
    for (int64_t i = 0; i < steps; ++i) step.run(images, labels, {1000 + i});
    runtime::synchronize(device);
    wall_ms = 1e3 * std::chrono::duration<double>(Clock::now() - start).count();
    ops = profile.stop();
  }
  double total = 0;
  for (const auto& op : ops) total += op.self_ms;
  std::printf("\noperator profile: %lld steps, %.1f ms per step under the profiler, %.1f ms of it in operators\n",
              static_cast<long long>(steps), wall_ms / double(steps), total / double(steps));
  std::printf("%-52s %10s %7s %8s\n", "operator (self time)", "ms/step", "share", "calls");
  double shown = 0;
  for (size_t i = 0; i < ops.size() && i < 25; ++i) {
    std::printf("%-52s %10.2f %6.1f%% %8lld\n", ops[i].name.substr(0, 52).c_str(), ops[i].self_ms / double(steps),
                100 * ops[i].self_ms / total, static_cast<long long>(ops[i].calls / steps));
    shown += ops[i].self_ms;
  }
  std::printf("%-52s %10.2f %6.1f%%\n", "(the other operators)", (total - shown) / double(steps),
              100 * (total - shown) / total);
}

int bench_train(const BenchTrainFlags& bench) {
  const auto& flags = bench.training;
  const auto& common = flags.common;
  torch::Device device = setup_runtime(common.model.runtime);
  const auto geometry = dataset::geometry(common.model.data.name);
  const auto options = network_options(common.model, geometry);
  auto net = build_network(flags, options);
  const auto costs = models::exit_costs(*net, {geometry.channels, geometry.height, geometry.width});
  // Under l2w launch, every rank steps on its share of the batch and rank 0 reports the job's rate.
  check_batch_divides(flags);
  const auto comm = join_job(flags, device);
  const int64_t world = comm ? comm->world_size() : 1;
  net->to(device);
  net->train();
  distributed::DataParallel parallel(net->parameters(), comm);
  // The trainer's iteration; the benchmark times its step alone (at a fixed rate), on one batch.
  train::Learner learner(net, train::LearnerOptions().sgd(trainer_options(flags, device).sgd()).guarded(false),
                         meta::step_factory(method_options(flags)), &parallel);
  auto& step = learner.step();
  // Synthetic input: the benchmark measures compute, not data.
  const int64_t local_batch = common.run.batch_size() / world;
  const auto images = torch::randn({local_batch, geometry.channels, geometry.height, geometry.width}).to(device);
  const auto labels = torch::randint(geometry.num_classes, {local_batch}, torch::kLong).to(device);
  if (parallel.is_main()) print_bench_header(flags, options, device, world);
  runtime::reset_peak_memory(device);
  const double images_per_s = double(world) * training_rate(step, images, labels, bench.iterations, device);
  const double peak_mb = runtime::peak_memory_mb(device);
  // Training costs about three forward passes (forward, input gradients, weight gradients).
  const double gflops = 3.0 * double(costs.back().muladds) * 2.0 * images_per_s / 1e9;
  if (!parallel.is_main()) return 0;
  std::printf("images/s            %.1f\n", images_per_s);
  std::printf("achieved GFLOP/s    %.1f  (3 x forward MUL-ADDs x 2 FLOP, %.2f M MUL-ADDs per image)\n", gflops,
              double(costs.back().muladds) / 1e6);
  const double peak = runtime::matmul_gflops(device);
  std::printf("matmul GFLOP/s      %.1f  (float32 product on %s, this run)\n", peak, device.str().c_str());
  std::printf("fraction of matmul  %.3f\n", gflops / peak);
  std::printf("%s %.0f\n", device.is_cuda() ? "peak GPU memory MB " : "peak resident MB   ", peak_mb);
  print_host_syncs(step, images, labels, flags.method.meta().meta_interval(), device);
  if (bench.profile > 0) print_operator_profile(step, images, labels, bench.profile, device);
  if (flags.method.method() == meta::Method::kL2W && flags.method.meta().meta_grad() == meta::MetaGrad::kFiniteDifference && world == 1)
    compare_with_exact(bench, *net, learner.sgd(), images, labels, device, images_per_s);
  if (device.is_cuda() && common.run.cuda_graphs() && world == 1)
    compare_with_graphs(meta::make_step(method_options(flags), *net, learner.sgd()), images, labels, bench.iterations, flags.method.meta().meta_interval(), device,
                        images_per_s);
  return 0;
}

}  // namespace

Subcommand add_bench_train_command(CLI::App& parent) {
  auto flags = std::make_shared<BenchTrainFlags>();
  auto* app = parent.add_subcommand("train", "training images/s of the method on synthetic batches");
  add_training_flags(*app, flags->training);
  app->add_option("--iterations", flags->iterations, "timed iterations")->check(kPositive);
  app->add_option("--profile", flags->profile, "then profile this many steps with LibTorch's profiler: self time per operator")
      ->check(kPositive);
  return {app, [flags, app] {
            apply_data_defaults(*app, flags->training.common);
            return bench_train(*flags);
          }};
}

Subcommand add_bench_data_command(CLI::App& parent) {
  auto flags = std::make_shared<BenchDataFlags>();
  auto* app = parent.add_subcommand("data", "JPEG decoding and ImageNet augmentation, images/s per thread");
  add_runtime_flags(*app, flags->runtime);
  app->add_option("--seed", flags->seed, "seed of the synthetic images and augmentation")->capture_default_str();
  app->add_option("--iterations", flags->iterations, "timed iterations")->check(kPositive);
  return {app, [flags] {
            setup_runtime(flags->runtime);
#ifdef L2W_WITH_IMAGES
            return bench_data(*flags);
#else
            throw std::runtime_error("bench data: this l2w was built without JPEG/PNG support (L2W_WITH_IMAGES)");
#endif
          }};
}

}  // namespace l2w::cli
