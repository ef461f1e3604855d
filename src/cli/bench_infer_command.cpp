#include <cstdio>
#include <iostream>

#include "commands.h"
#include "l2w/eval/dynamic.h"
#include "l2w/infer/speed_table.h"

namespace l2w::cli {
namespace {

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

void print_speed_table(const infer::SpeedTable& t, const Flags& flags, const torch::Device& device,
                       infer::Batching batching, const std::vector<nn::Cost>& costs) {
  std::printf("bench infer: %s on %lld test images, %s; throughput at batch %lld, latency at batch 1 "
              "over %lld images\n",
              flags.evaluate_from.c_str(), static_cast<long long>(t.images), device.str().c_str(),
              static_cast<long long>(flags.run.batch_size()), static_cast<long long>(t.latency_images));
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
              static_cast<int>(flags.bench_rounds), flags.bench_rounds == 1 ? "" : "s", t.whole_passes.size(),
              infer::percentile(t.whole_passes, 50), infer::percentile(t.whole_passes, 0),
              infer::percentile(t.whole_passes, 100));
  if (const auto* least = infer::least_efficient(t, t.all.muladds))
    std::printf("Early-exit efficiency between a quarter and the whole of the MUL-ADDs (%s batching, batch %lld): "
                "at least %.2f (p_idx %s).\n",
                infer::batching_name(batching).c_str(), static_cast<long long>(flags.run.batch_size()),
                least->efficiency(t.all.muladds), least->name.c_str());
  std::printf("The whole network at batch %lld, each block and its exit (share of the time / of the MUL-ADDs):",
              static_cast<long long>(flags.run.batch_size()));
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
              static_cast<long long>(flags.run.batch_size()), 100 * p.blocks_s / p.total(), 100 * p.exits_s / p.total(),
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

}  // namespace

int bench_infer_command(const Flags& flags) {
  const torch::Device device = setup_runtime(flags);
  const auto data = dataset::load_data(data_options(flags));
  auto net = load_trained_network(flags, network_options(flags, data_geometry(flags, data)));
  net->to(device);
  net->eval();
  const io::RunFolder folder = io::RunFolder(flags.run.run_dir()).create();
  // Thresholds for the 39 budgets from the validation set, as dynamic evaluation finds them: on the network
  // as trained, so that they are eval's to the last bit.
  const auto loading = dataset::LoaderOptions().workers(flags.run.workers()).skip_bad_images(flags.run.skip_bad_images());
  dataset::BatchLoader valid_loader(data.train, validation_subset(flags, folder, data.train->size()),
                                    dataset::LoaderOptions(loading).batch_size(256));
  const auto valid = eval::exit_confidences(eval::collect_outputs(*net, valid_loader, device), flags.exit_criterion);
  infer::TestLoaders test{
      dataset::BatchLoader(data.test, {}, dataset::LoaderOptions(loading).batch_size(flags.run.batch_size())),
      infer::first_images_one_at_a_time(data.test, flags.latency_images, flags.run.skip_bad_images())};
  const auto options = deployment_options(flags).throughput_batch(flags.run.batch_size());
  auto m = infer::deploy(net, data.test->image_shape(), device, options);
  const auto plan = infer::plan_deployment(m, options, device);
  const auto table =
      infer::measure_speed(m, test, eval::candidate_thresholds(valid), device, plan, flags.exit_criterion,
                           static_cast<int>(flags.bench_rounds));
  print_machine(device);
  std::printf("network             %s\n", plan.network.c_str());
  std::printf("threads             %s\n", plan.threads.c_str());
  std::printf("batching            %s\n", infer::batching_name(plan.batching).c_str());
  std::printf("exit criterion      %s\n", criterion::exit_criterion_name(flags.exit_criterion).c_str());
  print_speed_table(table, flags, device, plan.batching, m.costs);
  infer::write_speed_table(table, folder.infer_bench());
  plot_speed(table, folder, flags.run.batch_size());
  return 0;
}

}  // namespace l2w::cli
