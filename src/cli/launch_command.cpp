#include <filesystem>
#include <iostream>

#include "commands.h"
#include "option_flags.h"
#include "l2w/distributed/launcher.h"

namespace l2w::cli {
namespace {

struct LaunchFlags {
  distributed::LaunchOptions options;
  std::vector<std::string> command;
};

int run_launch(const LaunchFlags& flags) {
  const auto& options = flags.options;
  std::vector<std::string> command = flags.command;
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

}  // namespace

Subcommand add_launch_command(CLI::App& parent) {
  auto flags = std::make_shared<LaunchFlags>();
  auto& o = flags->options;
  auto* app = parent.add_subcommand("launch", "start a data-parallel job's local processes: l2w launch --nproc N -- train ...");
  for (const auto& [name, flag] : {std::pair{"nproc", "--nproc"}, {"node_rank", "--node_rank"}, {"master_port", "--master_port"}})
    register_flag(name, flag);
  app->add_option("--nproc,--nproc_per_node,--nproc-per-node", o.nproc, "processes on this machine")->check(kPositive);
  app->add_option("--nnodes", o.nnodes, "machines in the job (each runs l2w launch)")->check(kPositive);
  app->add_option("--node_rank,--node-rank", o.node_rank, "this machine's index")->check(kNonNegative);
  app->add_option("--master_addr,--master-addr", o.master_addr, "address of the machine with rank 0");
  app->add_option("--master_port,--master-port", o.master_port, "its port (default: a free one, one machine only)")
      ->check(CLI::Range(0, 65535));
  app->add_option("command", flags->command, "the l2w subcommand and its flags, after --")->required();
  return {app, [flags] { return run_launch(*flags); }};
}

}  // namespace l2w::cli
