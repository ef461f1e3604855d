#include <filesystem>
#include <iostream>

#include "commands.h"
#include "l2w/distributed/launcher.h"
#include "l2w/distributed/process_group.h"

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
  if (flags.batch_size % world != 0)
    throw FlagError("--batch-size " + std::to_string(flags.batch_size) + " does not divide among " +
                    std::to_string(world) + " processes");
}

void report_error(const std::string& kind, const std::string& message) {
  std::string where;
  if (const auto& comm = joined()) {
    where = " (rank " + std::to_string(comm->rank()) + ")";
    comm->report_failure(message);
  }
  std::cerr << "l2w: " << kind << where << ": " << message << std::endl;
}

int launch_command(const Flags& flags) {
  distributed::LaunchOptions options;
  options.nproc = flags.nproc;
  options.nnodes = flags.nnodes;
  options.node_rank = flags.node_rank;
  options.master_addr = flags.master_addr;
  options.master_port = flags.master_port;
  std::vector<std::string> command = flags.launch_command;
  // The ranks run this very program: `l2w launch -- train …` runs `l2w train …`.
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw std::runtime_error("l2w launch: cannot find its own executable: " + error.message());
  command.insert(command.begin(), self.string());
  try {
    return distributed::launch(command, options);
  } catch (const std::invalid_argument& e) {
    throw FlagError(e.what());
  }
}

}  // namespace l2w::cli
