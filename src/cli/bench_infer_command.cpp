#include <cstdio>
#include <iostream>

#include "command_support.h"
#include "commands.h"
#include "run_flags.h"
#include "l2w/eval/dynamic.h"
#include "l2w/infer/speed_table.h"

namespace l2w::cli {
namespace {

struct BenchInferFlags {
  RunFlags common;
  infer::DeploymentOptions deployment;
  int64_t latency_images = 500;
  int64_t rounds = 1;  // timings of each budget's throughput
};

void print_row(const infer::SpeedRow& r, double whole_muladds) {
  char bound[16] = "";
  if (r.bound_speed_up > 0) std::snprintf(bound, sizeof bound, "%.2f", r.efficiency_bound(whole_muladds));
  std::printf("%5s   %7.2f   %12.3f   %8.3f / %7.3f / %7.3f      %9.1f   %8.2f   %10.2f   %5s   %s\n", r.name.c_str(),
              r.accuracy, r.muladds / 1e6, r.mean_ms, r.p50_ms, r.p99_ms, r.images_per_s, r.speed_up(),
              r.efficiency(whole_muladds), bound, r.exits_taken.c_str());
}

void print_latency_by_exit(const infer::SpeedRow& r) {
  for (size_t k = 0; k < r.latency_ms_by_exit.size(); ++k) {
    const auto& ms = r.latency_ms_by_exit[k];
    if (ms.empty()) continue;
    std::printf("%s exit %zu %.3f / %.3f (%zu images)", k ? "," : "", k + 1, infer::percentile(ms, 50),
                infer::percentile(ms, 99), ms.size());
  }
  std::printf("\n");
}

std::string rounds_text(const std::vector<double>& rates) {
  std::string text;
  for (size_t i = 0; i < rates.size(); ++i) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%s%.1f", i ? ", " : "", rates[i]);
    text += rate;
  }
  return text;
}

void print_speed_table(const infer::SpeedTable& t, const BenchInferFlags& flags, const torch::Device& device,
                       infer::Batching batching, const std::vector<nn::Cost>& costs) {
  std::printf("bench infer: %s on %lld test images, %s; throughput at batch %lld, latency at batch 1 "
              "over %lld images\n",
              flags.common.evaluate_from.c_str(), static_cast<long long>(t.images), device.str().c_str(),
              static_cast<long long>(flags.common.run.batch_size()), static_cast<long long>(t.latency_images));
  std::printf("p_idx   top-1 %%   MUL-ADDs (M)   latency ms (mean / p50 / p99)   images/s   speed-up   efficiency   "
              "bound   exits taken\n");
  for (const auto* row : {&t.all, &t.last}) print_row(*row, t.all.muladds);
  for (const auto& row : t.budgets) print_row(row, t.all.muladds);
  const auto& half = t.budgets[t.half];
  std::printf("\nSpeed-up: over the whole network (every exit computed) timed before and after the row, %d time%s (its "
              "%zu passes: median %.1f, from %.1f to %.1f images/s); rows keep the median speed-up.\nEfficiency: the speed-up "
              "over the MUL-ADD reduction (whole network's MUL-ADDs over the row's); 1 when every MUL-ADD saved became "
              "time saved.\nBound: the efficiency of a perfect engine, whose images pay the whole network's time per image in each "
              "block and exit they reach at this batch size.\n",
              static_cast<int>(flags.rounds), flags.rounds == 1 ? "" : "s", t.whole_passes.size(),
              infer::percentile(t.whole_passes, 50), infer::percentile(t.whole_passes, 0),
              infer::percentile(t.whole_passes, 100));
  if (const auto* least = infer::least_efficient(t, t.all.muladds))
    std::printf("Early-exit efficiency between a quarter and the whole of the MUL-ADDs (%s batching, batch %lld): "
                "at least %.2f (p_idx %s).\n",
                infer::batching_name(batching).c_str(), static_cast<long long>(flags.common.run.batch_size()),
                least->efficiency(t.all.muladds), least->name.c_str());
  std::printf("The whole network at batch %lld, each block and its exit (share of the time / of the MUL-ADDs):",
              static_cast<long long>(flags.common.run.batch_size()));
  for (size_t k = 0; k < t.stage_share.size(); ++k) {
    const double muladds = double(costs[k].muladds - (k ? costs[k - 1].muladds : 0)) / double(costs.back().muladds);
    std::printf("%s %zu: %.1f%% / %.1f%%", k ? "," : "", k + 1, 100 * t.stage_share[k], 100 * muladds);
  }
  std::printf("\n");
  if (!t.half_per_batch_rounds.empty()) {
    const double per_batch = infer::percentile(t.half_per_batch_rounds, 50);
    std::printf("Stage-wise batching at p_idx %s: %.2fx the per-batch engine's throughput (%.1f against %.1f images/s, "
                "medians of %d interleaved rounds; per-batch %s).\n",
                half.name.c_str(), half.images_per_s / per_batch, half.images_per_s, per_batch, infer::kHeadlineRounds,
                rounds_text(t.half_per_batch_rounds).c_str());
  }
  std::printf("At p_idx %s (MUL-ADDs nearest half the whole network's): throughput %.2fx the whole network's,\n"
              "%.2fx the last-exit-only network's; exit checks and compaction take %.3f ms per image at batch 1,\n"
              "%.1f%% of the whole network's latency (%.3f ms).\n",
              half.name.c_str(), half.images_per_s / t.all.images_per_s, half.images_per_s / t.last.images_per_s,
              t.decisions_ms, 100.0 * t.decisions_ms / t.all.mean_ms, t.all.mean_ms);
  std::printf("Throughputs behind these ratios, medians of %d interleaved rounds (images/s): whole %s; last exit "
              "only %s; p_idx %s %s.\n",
              infer::kHeadlineRounds, rounds_text(t.all_rounds).c_str(), rounds_text(t.last_rounds).c_str(),
              half.name.c_str(), rounds_text(t.half_rounds).c_str());
  std::printf("Its batch-1 latency by exit taken (p50 / p99 ms):");
  print_latency_by_exit(half);
  const auto& p = t.batch_profile;
  std::printf("Its time at batch %lld (synchronised at each step): blocks %.1f%%, exit classifiers %.1f%%, exit checks "
              "and compaction %.1f%%.\n",
              static_cast<long long>(flags.common.run.batch_size()), 100 * p.blocks_s / p.total(), 100 * p.exits_s / p.total(),
              100 * p.decisions_s / p.total());
  std::printf("The whole network's batch-1 latency: p99 / p50 = %.2f.\n", t.all.p99_ms / t.all.p50_ms);
}

// Accuracy against latency and against throughput: the budgets as a curve, the baselines as points.
void plot_speed(const infer::SpeedTable& t, const io::RunFolder& folder, int64_t batch_size) {
  report::RunCurve latency, throughput;
  latency.label = throughput.label = report::run_label(folder.dir());
  latency.points_name = throughput.points_name = "whole network, last exit only";
  for (const auto* r : {&t.all, &t.last}) {
    latency.exits.emplace_back(r->mean_ms, r->accuracy);
    throughput.exits.emplace_back(r->images_per_s, r->accuracy);
  }
  for (const auto& r : t.budgets) {
    latency.dynamic.emplace_back(r.mean_ms, r.accuracy);
    throughput.dynamic.emplace_back(r.images_per_s, r.accuracy);
  }
  const std::string title = "Early-exit inference: " + latency.label;
  try {
    report::plot_accuracy_budget({latency}, folder.accuracy_latency_chart(), title,
                                 {"mean latency per image, batch 1 (ms)", 1.0});
    report::plot_accuracy_budget({throughput}, folder.accuracy_throughput_chart(), title,
                                 {"throughput, batch " + std::to_string(batch_size) + " (images/s)", 1.0});
    std::cout << "Table: " << folder.infer_bench() << "; plots: " << folder.accuracy_latency_chart() << ".{png,svg}, "
              << folder.accuracy_throughput_chart() << ".{png,svg}" << std::endl;
  } catch (const std::runtime_error& e) {
    std::cerr << "l2w: warning: " << e.what() << std::endl;
  }
}

int bench_infer(const BenchInferFlags& flags) {
  const auto& common = flags.common;
  const torch::Device device = setup_runtime(common.model.runtime);
  const auto data = dataset::load_data(common.model.data);
  auto net = load_trained_network(common, network_options(common.model, data_geometry(common.model, data)));
  net->to(device);
  net->eval();
  const io::RunFolder folder = io::RunFolder(common.run.run_dir()).create();
  // Thresholds for the 39 budgets from the validation set, as dynamic evaluation finds them: on the network
  // as trained, so that they are eval's to the last bit.
  const auto loading = dataset::LoaderOptions().workers(common.run.workers()).skip_bad_images(common.run.skip_bad_images());
  dataset::BatchLoader valid_loader(data.train, validation_subset(common, folder, data.train->size()),
                                    dataset::LoaderOptions(loading).batch_size(256));
  const auto valid = eval::exit_confidences(eval::collect_outputs(*net, valid_loader, device), common.exit_criterion);
  infer::TestLoaders test{
      dataset::BatchLoader(data.test, {}, dataset::LoaderOptions(loading).batch_size(common.run.batch_size())),
      infer::first_images_one_at_a_time(data.test, flags.latency_images, common.run.skip_bad_images())};
  const auto options = deployment_options(flags.deployment, common).throughput_batch(common.run.batch_size());
  auto m = infer::deploy(net, data.test->image_shape(), device, options);
  const auto plan = infer::plan_deployment(m, options, device);
  const auto table =
      infer::measure_speed(m, test, eval::candidate_thresholds(valid), device, plan, common.exit_criterion,
                           static_cast<int>(flags.rounds));
  print_machine(device);
  std::printf("network             %s\n", plan.network.c_str());
  std::printf("precision           %s\n", plan.precision.c_str());
  std::printf("threads             %s\n", plan.threads.c_str());
  std::printf("batching            %s\n", infer::batching_name(plan.batching).c_str());
  std::printf("exit criterion      %s\n", criterion::exit_criterion_name(common.exit_criterion).c_str());
  print_speed_table(table, flags, device, plan.batching, m.costs);
  infer::write_speed_table(table, folder.infer_bench());
  plot_speed(table, folder, common.run.batch_size());
  return 0;
}

}  // namespace

Subcommand add_bench_infer_command(CLI::App& parent) {
  auto flags = std::make_shared<BenchInferFlags>();
  auto* app = parent.add_subcommand(
      "infer", "the speed test: accuracy, latency and throughput of early-exit inference at the 39 budgets");
  add_run_flags(*app, flags->common);
  add_checkpoint_flag(*app, flags->common);
  add_deployment_flags(*app, flags->deployment);
  app->add_option("--latency-images", flags->latency_images, "images timed one at a time for latency")->check(kPositive);
  add_exit_criterion_flag(*app, flags->common);
  app->add_option("--rounds", flags->rounds,
                  "times each budget's throughput is timed between passes of the whole network (medians kept)")
      ->check(kPositive)
      ->capture_default_str();
  return {app, [flags, app] {
            apply_data_defaults(*app, flags->common);
            return bench_infer(*flags);
          }};
}

}  // namespace l2w::cli
