// l2w: train, evaluate and measure multi-exit networks (see README.md).
#include <iostream>

#include "commands.h"
#include "l2w/dataset/image_dataset.h"
#include "l2w/train/state_dict.h"

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
  } catch (const FlagError& e) {
    std::cerr << "l2w: error: " << e.what() << std::endl;
    return 2;
  } catch (const l2w::dataset::DataError& e) {
    std::cerr << "l2w: data error: " << e.what() << std::endl;
    return 1;
  } catch (const l2w::train::CheckpointError& e) {
    std::cerr << "l2w: checkpoint error: " << e.what() << std::endl;
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "l2w: error: " << e.what_without_backtrace() << std::endl;
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "l2w: error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
