#include <filesystem>
#include <iostream>

#include "commands.h"
#include "l2w/distributed/launcher.h"

namespace l2w::cli {
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
    throw flag_error(e);
  }
}

}  // namespace l2w::cli
