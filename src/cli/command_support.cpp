#include "command_support.h"

#include <cstdio>
#include <iostream>

#include "l2w/io/run_folder.h"
#include "l2w/runtime/device.h"

namespace l2w::cli {
namespace {

std::shared_ptr<distributed::Communicator>& joined() {
  static std::shared_ptr<distributed::Communicator> comm;
  return comm;
}

}  // namespace

void remember_job(std::shared_ptr<distributed::Communicator> comm) { joined() = std::move(comm); }

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
