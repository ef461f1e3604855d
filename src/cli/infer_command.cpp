#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>

#include "commands.h"
#include "l2w/dataset/validation_split.h"
#include "l2w/eval/dynamic.h"
#include "l2w/criterion/exit_allocation.h"
#include "l2w/io/thresholds_file.h"
#include "l2w/infer/speed_test.h"
#include "l2w/models/exit_cost.h"
#include "l2w/nn/cost_meter.h"

namespace l2w::cli {
namespace {

struct Model {
  models::MultiExitNetwork net;
  std::vector<nn::Cost> costs;  // per exit, earlier exits' heads included (SPEC §1.2)
  int64_t last_exit_only_muladds = 0;  // every block and the last exit's head only
  dataset::DataSplits data;
};

Model load_model(const Flags& flags, const torch::Device& device) {
  Model m;
  m.data = dataset::load_data(data_options(flags));
  const auto geometry = data_geometry(flags, m.data);
  const auto options = network_options(flags, geometry);
  m.net = load_trained_network(flags, options);
  m.costs = models::exit_costs(*m.net, {geometry.channels, geometry.height, geometry.width});
  {
    nn::CostMeter meter;
    infer::EarlyExitClassifier(m.net, std::vector<float>(m.net->num_exits(), 0.0f))
        .classify_full(torch::zeros({1, geometry.channels, geometry.height, geometry.width}));
    m.last_exit_only_muladds = meter.total().muladds;
  }
  m.net->to(device);
  m.net->eval();
  return m;
}

// The first `count` test images, one per batch: the latency case.
dataset::BatchLoader latency_loader(const Model& m, int64_t count, bool skip_bad_images) {
  std::vector<int64_t> first(std::min<int64_t>(count, m.data.test->size()));
  std::iota(first.begin(), first.end(), 0);
  return dataset::BatchLoader(m.data.test, first, dataset::LoaderOptions().batch_size(1).skip_bad_images(skip_bad_images));
}

}  // namespace

int infer_command(const Flags& flags) {
  const torch::Device device = setup_runtime(flags);
  const auto thresholds = io::read_thresholds(flags.thresholds);
  auto m = load_model(flags, device);
  if (static_cast<int64_t>(thresholds.thresholds.size()) != m.net->num_exits())
    throw FlagError("--thresholds " + flags.thresholds + ": " + std::to_string(thresholds.thresholds.size()) +
                    " exits, the network has " + std::to_string(m.net->num_exits()));
  for (size_t k = 0; k < m.costs.size(); ++k) {
    if (thresholds.exit_muladds[k] != m.costs[k].muladds)
      throw FlagError("--thresholds " + flags.thresholds + ": chosen for another network (exit " + std::to_string(k + 1) +
                      " costs " + std::to_string(thresholds.exit_muladds[k]) + " MUL-ADDs there, " +
                      std::to_string(m.costs[k].muladds) + " here)");
  }
  infer::EarlyExitClassifier engine(m.net, thresholds.thresholds);
  dataset::BatchLoader loader(m.data.test, {},
                              dataset::LoaderOptions().batch_size(flags.batch_size).workers(flags.workers).skip_bad_images(flags.skip_bad_images));
  const auto run = infer::run_inference(engine, loader, device, m.costs);
  auto single = latency_loader(m, flags.latency_images, flags.skip_bad_images);
  const auto latency = infer::run_inference(engine, single, device, m.costs);

  std::printf("Early-exit inference of %s with %s (p_idx %lld) on %lld test images, %s, %d threads\n",
              flags.evaluate_from.c_str(), flags.thresholds.c_str(), static_cast<long long>(thresholds.p_index),
              static_cast<long long>(run.images), device.str().c_str(), at::get_num_threads());
  std::printf("  top-1 accuracy       %.2f %%\n", run.accuracy);
  std::printf("  exits taken          %s\n", eval::exit_histogram(run.exit_counts).c_str());
  std::printf("  mean MUL-ADDs        %.3f M per image (full network %.3f M)\n", run.mean_muladds / 1e6,
              double(m.costs.back().muladds) / 1e6);
  std::printf("  throughput           %.1f images/s (batch %lld)\n", run.images_per_second(),
              static_cast<long long>(flags.batch_size));
  std::printf("  latency, batch 1     p50 %.3f ms, p90 %.3f ms, p99 %.3f ms (%lld images)\n",
              1e3 * infer::percentile(latency.batch_seconds, 50), 1e3 * infer::percentile(latency.batch_seconds, 90),
              1e3 * infer::percentile(latency.batch_seconds, 99), static_cast<long long>(latency.images));
  return 0;
}

int bench_infer_command(const Flags& flags) {
  const torch::Device device = setup_runtime(flags);
  auto m = load_model(flags, device);
  train::RunFolder folder(flags.train_url);
  const int64_t exits = m.net->num_exits();

  // Thresholds for the 39 budgets from the validation set, as dynamic evaluation finds them.
  const auto subset = flags.use_valid ? dataset::load_split(folder.file("valid_index.txt"), m.data.train->size()).valid
                                      : std::vector<int64_t>{};
  dataset::BatchLoader valid_loader(m.data.train, subset,
                                    dataset::LoaderOptions().batch_size(256).workers(flags.workers).skip_bad_images(flags.skip_bad_images));
  const auto valid = eval::exit_confidences(eval::collect_outputs(*m.net, valid_loader, device));

  dataset::BatchLoader loader(m.data.test, {},
                              dataset::LoaderOptions().batch_size(flags.batch_size).workers(flags.workers).skip_bad_images(flags.skip_bad_images));
  auto single = latency_loader(m, flags.latency_images, flags.skip_bad_images);
  // The baselines: the whole network, every exit computed (what its MUL-ADDs count), and the network
  // without early exits (every block, the last exit only). A first untimed pass warms caches and kernels.
  const float inf = std::numeric_limits<float>::infinity();
  infer::EarlyExitClassifier full(m.net, std::vector<float>(exits, inf));
  infer::run_inference(full, loader, device, m.costs);
  const auto full_run = infer::run_inference(full, loader, device, m.costs);
  const auto full_latency = infer::run_inference(full, single, device, m.costs);
  const double full_ms = 1e3 * full_latency.seconds() / double(full_latency.images);
  const auto last_run = infer::run_inference(full, loader, device, m.costs, /*full_network=*/true);
  const auto last_latency = infer::run_inference(full, single, device, m.costs, /*full_network=*/true);
  const double last_ms = 1e3 * last_latency.seconds() / double(last_latency.images);

  std::printf("bench infer: %s on %lld test images, %s, %d threads; throughput at batch %lld, latency at batch 1 "
              "over %lld images\n",
              flags.evaluate_from.c_str(), static_cast<long long>(full_run.images), device.str().c_str(),
              at::get_num_threads(), static_cast<long long>(flags.batch_size),
              static_cast<long long>(full_latency.images));
  std::printf("p_idx   top-1 %%   MUL-ADDs (M)   latency ms (mean / p50 / p99)   images/s   speed-up   exits taken\n");
  std::printf("  all   %7.2f   %12.3f   %8.3f / %7.3f / %7.3f      %9.1f   %8.2f   all exits computed\n",
              full_run.accuracy, double(m.costs.back().muladds) / 1e6, full_ms,
              1e3 * infer::percentile(full_latency.batch_seconds, 50),
              1e3 * infer::percentile(full_latency.batch_seconds, 99), full_run.images_per_second(), 1.0);
  std::printf(" last   %7.2f   %12.3f   %8.3f / %7.3f / %7.3f      %9.1f   %8.2f   last exit only\n", last_run.accuracy,
              double(m.last_exit_only_muladds) / 1e6, last_ms, 1e3 * infer::percentile(last_latency.batch_seconds, 50),
              1e3 * infer::percentile(last_latency.batch_seconds, 99), last_run.images_per_second(),
              last_run.images_per_second() / full_run.images_per_second());

  std::ofstream table(folder.file("infer_bench.tsv"));
  table << "p_index\ttop1\tmuladds\tlatency_mean_ms\tlatency_p50_ms\tlatency_p99_ms\timages_per_s\n";
  table << "all\t" << full_run.accuracy << '\t' << m.costs.back().muladds << '\t' << full_ms << '\t'
        << 1e3 * infer::percentile(full_latency.batch_seconds, 50) << '\t'
        << 1e3 * infer::percentile(full_latency.batch_seconds, 99) << '\t' << full_run.images_per_second() << '\n';
  table << "last\t" << last_run.accuracy << '\t' << m.last_exit_only_muladds << '\t' << last_ms << '\t'
        << 1e3 * infer::percentile(last_latency.batch_seconds, 50) << '\t'
        << 1e3 * infer::percentile(last_latency.batch_seconds, 99) << '\t' << last_run.images_per_second() << '\n';
  report::RunCurve latency_curve, throughput_curve;
  latency_curve.label = throughput_curve.label = report::run_label(folder.dir());
  latency_curve.points_name = throughput_curve.points_name = "whole network, last exit only";
  latency_curve.exits.emplace_back(full_ms, full_run.accuracy);
  latency_curve.exits.emplace_back(last_ms, last_run.accuracy);
  throughput_curve.exits.emplace_back(full_run.images_per_second(), full_run.accuracy);
  throughput_curve.exits.emplace_back(last_run.images_per_second(), last_run.accuracy);
  // The budget nearest half the full network's MUL-ADDs: the reference point.
  int64_t half_p = 0;
  double half_gap = std::numeric_limits<double>::infinity(), half_speedup = 0, half_rate = 0;
  std::vector<float> half_thresholds;
  for (int64_t p = 1; p <= 39; ++p) {
    const auto thresholds = eval::find_thresholds(valid.confidence, criterion::target_proportions(p, exits));
    infer::EarlyExitClassifier engine(m.net, thresholds);
    const auto run = infer::run_inference(engine, loader, device, m.costs);
    const auto latency = infer::run_inference(engine, single, device, m.costs);
    const double mean_ms = 1e3 * latency.seconds() / double(latency.images);
    const double speedup = run.images_per_second() / full_run.images_per_second();
    std::printf("%5lld   %7.2f   %12.3f   %8.3f / %7.3f / %7.3f      %9.1f   %8.2f   %s\n", static_cast<long long>(p),
                run.accuracy, run.mean_muladds / 1e6, mean_ms, 1e3 * infer::percentile(latency.batch_seconds, 50),
                1e3 * infer::percentile(latency.batch_seconds, 99), run.images_per_second(), speedup,
                eval::exit_histogram(run.exit_counts).c_str());
    table << p << '\t' << run.accuracy << '\t' << run.mean_muladds << '\t' << mean_ms << '\t'
          << 1e3 * infer::percentile(latency.batch_seconds, 50) << '\t'
          << 1e3 * infer::percentile(latency.batch_seconds, 99) << '\t' << run.images_per_second() << '\n';
    latency_curve.dynamic.emplace_back(mean_ms, run.accuracy);
    throughput_curve.dynamic.emplace_back(run.images_per_second(), run.accuracy);
    const double gap = std::abs(run.mean_muladds - 0.5 * double(m.costs.back().muladds));
    if (gap < half_gap) {
      half_gap = gap;
      half_p = p;
      half_speedup = speedup;
      half_rate = run.images_per_second();
      half_thresholds = thresholds;
    }
  }

  // What deciding and compacting cost, against the full network's latency, at the half-cost budget.
  infer::EarlyExitClassifier profiled(m.net, half_thresholds);
  profiled.set_profiling(true);
  infer::run_inference(profiled, single, device, m.costs);
  const double decisions_ms = 1e3 * profiled.profile().decisions_s / double(full_latency.images);
  std::printf("\nAt p_idx %lld (MUL-ADDs nearest half the whole network's): throughput %.2fx the whole network's,\n"
              "%.2fx the last-exit-only network's; exit checks and compaction take %.3f ms per image at batch 1,\n"
              "%.1f%% of the whole network's latency (%.3f ms).\n",
              static_cast<long long>(half_p), half_speedup, half_rate / last_run.images_per_second(), decisions_ms,
              100.0 * decisions_ms / full_ms, full_ms);

  const std::string title = "Early-exit inference: " + latency_curve.label;
  try {
    report::plot_accuracy_budget({latency_curve}, folder.file("accuracy_latency"), title,
                               {"mean latency per image, batch 1 (ms)", 1.0});
    report::plot_accuracy_budget({throughput_curve}, folder.file("accuracy_throughput"), title,
                               {"throughput, batch " + std::to_string(flags.batch_size) + " (images/s)", 1.0});
    std::cout << "Table: " << folder.file("infer_bench.tsv") << "; plots: " << folder.file("accuracy_latency")
              << ".{png,svg}, " << folder.file("accuracy_throughput") << ".{png,svg}" << std::endl;
  } catch (const std::runtime_error& e) {
    std::cerr << "l2w: warning: " << e.what() << std::endl;
  }
  return 0;
}

}  // namespace l2w::cli
