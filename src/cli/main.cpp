// l2w: train, evaluate and measure multi-exit networks (see README.md).
#include <iostream>

#include "commands.h"
#include "l2w/dataset/image_dataset.h"
#include "l2w/io/state_dict.h"

int main(int argc, char** argv) {
  using namespace l2w::cli;
  CLI::App app{"l2w: learning to weight samples for dynamic early-exiting networks"};
  app.require_subcommand(1);
  Flags flags;
  auto* train = app.add_subcommand("train", "train a multi-exit network (--method l2w | plain)");
  auto* eval = app.add_subcommand("eval", "evaluate a checkpoint (--evalmode anytime | dynamic | both)");
  auto* flops = app.add_subcommand("flops", "per-exit cumulative MUL-ADDs and parameters");
  auto* infer = app.add_subcommand("infer", "early-exit inference with a thresholds file: accuracy, exits, latency");
  auto* plot = app.add_subcommand("plot", "draw runs' accuracy against MUL-ADDs on one chart (PNG and SVG)");
  auto* bench = app.add_subcommand("bench", "benchmarks: bench train | bench infer | bench data");
  std::string bench_what;
  for (auto* sub : {train, eval, infer, flops, bench}) add_flags(*sub, flags);
  eval->add_flag("--save-probs,--save_probs", flags.save_probs,
                 "write each exit's probabilities and the labels (valid and test) as .npy in the run folder");
  eval->add_option("--budget", flags.budget, "MUL-ADDs per image: write the thresholds that fit it")
      ->check(kPositive);
  eval->add_option("--thresholds", flags.thresholds, "thresholds file to write (default: RUN/thresholds.txt)");
  infer->add_option("--thresholds", flags.thresholds, "thresholds file (from eval --budget)")->required();
  for (auto* sub : {infer, bench})
    sub->add_option("--latency-images", flags.latency_images, "images timed one at a time for latency")
        ->check(kPositive);
  plot->add_option("runs", flags.plot_runs, "run folders (with dynamic.txt and/or anytime.csv)")->required();
  plot->add_option("--output,-o", flags.plot_output, "output path without extension (default: FIRST_RUN/accuracy_budget_all)");
  plot->add_option("--title", flags.plot_title, "chart title");
  flops->add_flag("--json", flags.json, "one JSON object {\"flops\": [...], \"params\": [...]}");
  bench->add_option("what", bench_what, "train | infer | data")
      ->required()
      ->check(CLI::IsMember({"train", "infer", "data"}));
  bench->add_option("--iterations", flags.bench_iterations, "timed iterations")->check(kPositive);
  auto* launch = app.add_subcommand("launch", "start a data-parallel job's local processes: l2w launch --nproc N -- train …");
  launch->add_option("--nproc,--nproc_per_node,--nproc-per-node", flags.nproc, "processes on this machine")
      ->check(kPositive);
  launch->add_option("--nnodes", flags.nnodes, "machines in the job (each runs l2w launch)")->check(kPositive);
  launch->add_option("--node_rank,--node-rank", flags.node_rank, "this machine's index")->check(kNonNegative);
  launch->add_option("--master_addr,--master-addr", flags.master_addr, "address of the machine with rank 0");
  launch->add_option("--master_port,--master-port", flags.master_port, "its port (default: a free one, one machine only)")
      ->check(CLI::Range(0, 65535));
  launch->add_option("command", flags.launch_command, "the l2w subcommand and its flags, after --")->required();

  const auto is_command = [&](const char* name) {
    try {
      return app.get_subcommand(name) != nullptr;
    } catch (const CLI::OptionNotFound&) {
      return false;
    }
  };
  if (argc > 1 && argv[1][0] != '-' && !is_command(argv[1])) {
    std::cerr << "l2w: error: unknown command '" << argv[1]
              << "' (train, eval, infer, plot, flops, bench, launch; l2w --help)" << std::endl;
    return 2;
  }
  try {
    app.parse(argc, argv);
    for (auto* sub : {train, eval, infer, flops, bench})
      if (*sub) apply_reference_defaults(*sub, flags);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "l2w: error: " << e.what() << std::endl;
    return 2;
  }
  try {
    if (*train) return train_command(flags);
    if (*eval) return eval_command(flags);
    if (*flops) return flops_command(flags);
    if (*plot) return plot_command(flags);
    if (*infer) return infer_command(flags);
    if (*bench && bench_what == "infer") return bench_infer_command(flags);
    if (*bench) return bench_command(flags, bench_what);
    if (*launch) return launch_command(flags);
  } catch (const FlagError& e) {
    report_error("error", e.what());
    return 2;
  } catch (const l2w::dataset::DataError& e) {
    report_error("data error", e.what());
    return 1;
  } catch (const l2w::io::CheckpointError& e) {
    report_error("checkpoint error", e.what());
    return 1;
  } catch (const l2w::distributed::DistributedError& e) {
    report_error("distributed error", e.what());
    return 1;
  } catch (const c10::Error& e) {
    report_error("error", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    report_error("error", e.what());
    return 1;
  }
  return 0;
}
