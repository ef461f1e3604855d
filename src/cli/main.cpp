// l2w: train, evaluate and measure multi-exit networks (see README.md).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "l2w/dataset/image_dataset.h"
#include "l2w/io/state_dict.h"
#include "l2w/train/preemption.h"

namespace l2w::cli {
namespace {

using Run = int (*)(const Flags&);

// A subcommand's flags beyond its groups (flags.h).
void add_infer_flags(CLI::App& app, Flags& f) {
  app.add_option("--thresholds", f.thresholds, "thresholds file (from eval --budget)")->required();
  add_deployment_flags(app, f);
  add_latency_flag(app, f);
}

void add_plot_flags(CLI::App& app, Flags& f) {
  app.add_option("runs", f.plot_runs, "run folders (with dynamic.txt and/or anytime.csv)")->required();
  app.add_option("--output,-o", f.plot_output, "output path without extension (default: FIRST_RUN/accuracy_budget_all)");
  app.add_option("--title", f.plot_title, "chart title");
}

void add_compare_flags(CLI::App& app, Flags& f) {
  app.add_option("methods", f.compare_methods, "one argument per method: its run folder, or its runs (seeds) RUN,RUN,...")
      ->required();
  app.add_option("--budgets", f.compare_budgets, "budgets as shares of the full network's MUL-ADDs (default 0.25,0.5,0.75,1)");
  app.add_option("--labels", f.compare_labels, "method names, comma-separated (default: run folder names)");
  app.add_option("--markdown", f.compare_markdown, "also write the budget table to this Markdown file");
  app.add_flag("--exits", f.compare_exits, "also each exit's cost and test top-1 (anytime)");
  app.add_option("--output,-o", f.plot_output, "plot path without extension (default: FIRST_RUN/../comparison)");
  app.add_option("--title", f.plot_title, "chart title");
}

void add_launch_flags(CLI::App& app, Flags& f) {
  for (const auto& [name, flag] : {std::pair{"nproc", "--nproc"}, {"node_rank", "--node_rank"}, {"master_port", "--master_port"}})
    register_flag(name, flag);
  app.add_option("--nproc,--nproc_per_node,--nproc-per-node", f.nproc, "processes on this machine")->check(kPositive);
  app.add_option("--nnodes", f.nnodes, "machines in the job (each runs l2w launch)")->check(kPositive);
  app.add_option("--node_rank,--node-rank", f.node_rank, "this machine's index")->check(kNonNegative);
  app.add_option("--master_addr,--master-addr", f.master_addr, "address of the machine with rank 0");
  app.add_option("--master_port,--master-port", f.master_port, "its port (default: a free one, one machine only)")
      ->check(CLI::Range(0, 65535));
  app.add_option("command", f.launch_command, "the l2w subcommand and its flags, after --")->required();
}

// The model commands: the runtime, data and architecture flags, then their own.
void add_model_flags(CLI::App& app, Flags& f) {
  add_runtime_flags(app, f);
  add_data_flags(app, f);
  add_architecture_flags(app, f);
}

#ifdef L2W_WITH_SERVER
// serve and bench serve: a trained network, its run folder and the server's own.
void add_server_flags(CLI::App& app, Flags& f) {
  add_model_flags(app, f);
  add_run_flags(app, f);
  add_checkpoint_flags(app, f);
  add_serving_flags(app, f);
}
#endif

void add_training_flags(CLI::App& app, Flags& f) {
  add_model_flags(app, f);
  add_run_flags(app, f);
  add_precision_flag(app, f);
  add_optimizer_flags(app, f);
  add_meta_flags(app, f);
  add_distributed_flags(app, f);
}

// Every subcommand (`bench` holds three of its own), its one-line summary, its flags and what it runs.
struct Command {
  const char* name;
  const char* summary;
  void (*add_flags)(CLI::App&, Flags&);
  Run run;
  CLI::App* app = nullptr;
};

std::vector<Command> commands() {
  return {
      {"train", "train a multi-exit network (--method l2w | plain)", add_training_flags, train_command},
      {"eval", "evaluate a checkpoint (--evalmode anytime | dynamic | both; --budget writes thresholds)",
       [](CLI::App& a, Flags& f) {
         add_model_flags(a, f);
         add_run_flags(a, f);
         add_precision_flag(a, f);
         add_checkpoint_flags(a, f);
         add_eval_flags(a, f);
       },
       eval_command},
      {"infer", "early-exit inference with a thresholds file: accuracy, exits taken, latency",
       [](CLI::App& a, Flags& f) {
         add_model_flags(a, f);
         add_run_flags(a, f);
         add_checkpoint_flags(a, f);
         add_infer_flags(a, f);
       },
       infer_command},
      {"flops", "per-exit cumulative MUL-ADDs and parameters",
       [](CLI::App& a, Flags& f) {
         add_model_flags(a, f);
         a.add_flag("--json", f.json, "one JSON object {\"flops\": [...], \"params\": [...]}");
       },
       flops_command},
      {"plot", "draw runs' accuracy against MUL-ADDs on one chart (PNG and SVG)", add_plot_flags, plot_command},
      {"compare", "methods side by side: accuracy at shares of the full cost, differences, one chart",
       add_compare_flags, compare_command},
      {"launch", "start a data-parallel job's local processes: l2w launch --nproc N -- train ...", add_launch_flags,
       launch_command},
#ifdef L2W_WITH_SERVER
      {"serve", "an HTTP classifier whose budget falls as load rises to keep --slo-ms",
       [](CLI::App& a, Flags& f) {
         add_server_flags(a, f);
         add_listening_flags(a, f);
       },
       serve_command},
#endif
  };
}

std::vector<Command> bench_commands() {
  return {
      {"train", "training images/s of the method on synthetic batches",
       [](CLI::App& a, Flags& f) {
         add_training_flags(a, f);
         a.add_option("--iterations", f.bench_iterations, "timed iterations")->check(kPositive);
         a.add_option("--profile", f.bench_profile,
                      "then profile this many steps with LibTorch's profiler: self time per operator")
             ->check(kPositive);
       },
       bench_train_command},
      {"infer", "the speed test: accuracy, latency and throughput of early-exit inference at the 39 budgets",
       [](CLI::App& a, Flags& f) {
         add_model_flags(a, f);
         add_run_flags(a, f);
         add_checkpoint_flags(a, f);
         add_deployment_flags(a, f);
         add_latency_flag(a, f);
         add_exit_criterion_flag(a, f);
         a.add_option("--rounds", f.bench_rounds,
                      "times each budget's throughput is timed between passes of the whole network (medians kept)")
             ->check(kPositive)
             ->capture_default_str();
       },
       bench_infer_command},
      {"data", "JPEG decoding and ImageNet augmentation, images/s per thread",
       [](CLI::App& a, Flags& f) {
         add_runtime_flags(a, f);
         a.add_option("--iterations", f.bench_iterations, "timed iterations")->check(kPositive);
       },
       bench_data_command},
#ifdef L2W_WITH_SERVER
      {"serve", "the server on loopback under Poisson load: latency, budget, accuracy, adaptive against pinned",
       [](CLI::App& a, Flags& f) {
         add_server_flags(a, f);
         add_load_flags(a, f);
       },
       bench_serve_command},
#endif
  };
}

void list_commands(const std::vector<Command>& top, const std::vector<Command>& bench) {
  std::cout << "l2w: learning to weight samples for dynamic early-exiting networks\n\nusage: l2w COMMAND [flags]"
               " (l2w COMMAND --help lists its flags)\n\n";
  for (const auto& c : top) std::printf("  %-12s %s\n", c.name, c.summary);
  for (const auto& c : bench) std::printf("  bench %-6s %s\n", c.name, c.summary);
}

// Runs the chosen command; every failure becomes one "l2w: KIND: ..." line and a non-zero exit.
int run_reporting_errors(Run run, const Flags& flags) {
  try {
    return run(flags);
  } catch (const FlagError& e) {
    report_error("error", e.what());
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
  auto top = commands();
  auto bench = bench_commands();
  if (argc < 2) {
    list_commands(top, bench);
    return 0;
  }
  CLI::App app{"l2w: learning to weight samples for dynamic early-exiting networks"};
  app.require_subcommand(1);
  Flags flags;
  for (auto& c : top) c.add_flags(*(c.app = app.add_subcommand(c.name, c.summary)), flags);
  auto* bench_app = app.add_subcommand("bench", "benchmarks: bench train | bench infer | bench data | bench serve");
  bench_app->require_subcommand(1);
  for (auto& c : bench) c.add_flags(*(c.app = bench_app->add_subcommand(c.name, c.summary)), flags);

  const std::string first = argv[1];
  const bool known = first == "bench" || first[0] == '-' ||
                     std::any_of(top.begin(), top.end(), [&](const Command& c) { return first == c.name; });
  if (!known) {
    std::cerr << "l2w: error: unknown command '" << first << "' (train, eval, infer, serve, plot, compare, flops, bench, launch; l2w alone lists them)"
              << std::endl;
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "l2w: error: " << e.what() << std::endl;
    return 2;
  }
  for (auto* list : {&top, &bench}) {
    for (const auto& c : *list) {
      if (!*c.app) continue;
      apply_data_defaults(*c.app, flags);
      return run_reporting_errors(c.run, flags);
    }
  }
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
