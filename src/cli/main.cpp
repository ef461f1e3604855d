// l2w: train, evaluate and measure multi-exit networks (see README.md).
#include <csignal>
#include <cstdio>
#include <iostream>

#include "command_support.h"
#include "commands.h"
#include "l2w/dataset/image_dataset.h"
#include "l2w/distributed/communicator.h"
#include "l2w/io/state_dict.h"
#include "option_flags.h"
#include "l2w/train/preemption.h"

namespace l2w::cli {
namespace {

// Every subcommand with its flags (`bench` holds four of its own).
struct CommandLine {
  CLI::App app{"l2w: learning to weight samples for dynamic early-exiting networks"};
  CLI::App* bench = nullptr;
  std::vector<Subcommand> top, benchmarks;

  CommandLine() {
    app.require_subcommand(1);
    for (auto add : {add_train_command, add_eval_command, add_infer_command, add_flops_command, add_plot_command,
                     add_compare_command, add_launch_command, add_export_command
#ifdef L2W_WITH_SERVER
                     ,
                     add_serve_command
#endif
         })
      top.push_back(add(app));
    bench = app.add_subcommand("bench", "benchmarks: bench train | bench infer | bench data | bench serve");
    bench->require_subcommand(1);
    for (auto add : {add_bench_train_command, add_bench_infer_command, add_bench_data_command
#ifdef L2W_WITH_SERVER
                     ,
                     add_bench_serve_command
#endif
         })
      benchmarks.push_back(add(*bench));
  }
};

void list_commands(const CommandLine& line) {
  std::cout << "l2w: learning to weight samples for dynamic early-exiting networks\n\nusage: l2w COMMAND [flags]"
               " (l2w COMMAND --help lists its flags)\n\n";
  for (const auto& c : line.top) std::printf("  %-12s %s\n", c.app->get_name().c_str(), c.app->get_description().c_str());
  for (const auto& c : line.benchmarks)
    std::printf("  bench %-6s %s\n", c.app->get_name().c_str(), c.app->get_description().c_str());
}

// Runs the chosen command; every failure becomes one "l2w: KIND: ..." line and a non-zero exit.
int run_reporting_errors(const std::function<int()>& run) {
  try {
    return run();
  } catch (const FlagError& e) {
    report_error("error", e.what());
    return 2;
  } catch (const options::OptionError& e) {
    report_error("error", flag_error(e).what());
    return 2;
  } catch (const dataset::DataError& e) {
    report_error("data error", e.what());
    return 1;
  } catch (const io::CheckpointError& e) {
    report_error("checkpoint error", e.what());
    return 1;
  } catch (const distributed::DistributedError& e) {
    report_error("distributed error", e.what());
    return 1;
  } catch (const c10::Error& e) {
    report_error("error", e.what_without_backtrace());
    return 1;
  } catch (const train::Preempted& e) {
    report_preempted(e.what());
    return train::kPreemptedExitStatus;
  } catch (const std::exception& e) {
    report_error("error", e.what());
    return 1;
  }
}

int run_main(int argc, char** argv) {
  CommandLine line;
  if (argc < 2) {
    list_commands(line);
    return 0;
  }
  const std::string first = argv[1];
  bool known = first == "bench" || first[0] == '-';
  for (const auto& c : line.top) known = known || first == c.app->get_name();
  if (!known) {
    std::cerr << "l2w: error: unknown command '" << first
              << "' (train, eval, infer, serve, export, plot, compare, flops, bench, launch; l2w alone lists them)" << std::endl;
    return 2;
  }
  try {
    line.app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return line.app.exit(e);  // --help
    std::cerr << "l2w: error: " << e.what() << std::endl;
    return 2;
  }
  for (const auto* list : {&line.top, &line.benchmarks})
    for (const auto& c : *list)
      if (*c.app) return run_reporting_errors(c.run);
  return 0;
}

}  // namespace
}  // namespace l2w::cli

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write then fails with EFBIG and is reported as an error, the
  // previous checkpoint intact, instead of the signal killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  return l2w::cli::run_main(argc, argv);
}
