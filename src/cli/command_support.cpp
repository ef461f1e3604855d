#include "command_support.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "l2w/distributed/process_group.h"
#include "l2w/io/checkpoint.h"
#include "l2w/runtime/device.h"

namespace l2w::cli {
namespace {

std::shared_ptr<distributed::Communicator>& joined() {
  static std::shared_ptr<distributed::Communicator> comm;
  return comm;
}

}  // namespace

std::shared_ptr<distributed::Communicator> join_job(const Flags& flags, torch::Device& device) {
  const auto job = job_options(flags);
  if (!job.distributed()) return nullptr;
  if (!distributed::c10d_available())
    throw FlagError("a job of " + std::to_string(job.world_size) +
                    " processes needs c10d, and this l2w was built without it (Debian: libgloo-dev)");
  if (device.is_cuda() && !device.has_index()) device = torch::Device(torch::kCUDA, job.local_rank);
  joined() = distributed::join_job(job, device);
  return joined();
}

void check_batch_divides(const Flags& flags) {
  const int64_t world = job_options(flags).world_size;
  try {
    distributed::share_of_batch(flags.run.batch_size(), world);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

double print_machine(const torch::Device& device) {
  const double gflops = runtime::matmul_gflops(device);
  std::printf("machine             LibTorch %s, %d intra-op and %zu inter-op threads, %s\n", TORCH_VERSION,
              at::get_num_threads(), at::get_num_interop_threads(), runtime::device_name(device).c_str());
  std::printf("matmul GFLOP/s      %.1f  (float32 product on %s, this run)\n", gflops, device.str().c_str());
  return gflops;
}

void report_preempted(const std::string& message) {
  if (joined() == nullptr || joined()->rank() == 0) std::cerr << "l2w: " << message << std::endl;
}

void report_error(const std::string& kind, const std::string& message) {
  std::string where;
  if (const auto& comm = joined()) {
    where = " (rank " + std::to_string(comm->rank()) + ")";
    comm->report_failure(message);
  }
  std::cerr << "l2w: " << kind << where << ": " << message << std::endl;
}

torch::Device setup_runtime(const Flags& f) {
  try {
    return runtime::set_up_run(f.runtime);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

models::MultiExitNetwork build_network(const Flags& flags, const models::NetworkOptions& options) {
  try {
    return train::build_network(build_options(flags, options));
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

models::MultiExitNetwork load_trained_network(const Flags& flags, const models::NetworkOptions& options) {
  if (flags.evaluate_from.empty()) throw FlagError("--evaluate_from: a checkpoint to evaluate is required");
  try {
    return train::load_trained_network(flags.evaluate_from, options);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

std::vector<int64_t> validation_subset(const Flags& flags, const io::RunFolder& folder, int64_t train_size) {
  dataset::SplitOptions options;
  options.use_valid = flags.run.use_valid();
  return dataset::run_split(folder.valid_index(), train_size, options).valid;
}

void plot_run(const std::string& run_dir, const report::RunCurve& curve) {
  const auto output = io::RunFolder(run_dir).accuracy_budget_chart();
  try {
    report::plot_accuracy_budget({curve}, output, "Budgeted batch classification: " + curve.label);
    std::cout << "Plot: " << output << ".png, " << output << ".svg" << std::endl;
  } catch (const std::runtime_error& e) {
    std::cerr << "l2w: warning: " << e.what() << std::endl;
  }
}

}  // namespace l2w::cli
