#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <cmath>
#include <numeric>

#include "commands.h"
#include "l2w/dataset/validation_split.h"
#include "l2w/eval/dynamic.h"
#include "l2w/io/thresholds_file.h"
#include "l2w/infer/inference_form.h"
#include "l2w/infer/speed_test.h"
#include "l2w/infer/thread_policy.h"
#include "l2w/models/exit_cost.h"
#include "l2w/nn/cost_meter.h"

namespace l2w::cli {
namespace {

constexpr float kNever = std::numeric_limits<float>::infinity();  // an exit threshold no image reaches

struct Model {
  models::MultiExitNetwork net;
  std::vector<nn::Cost> costs;  // per exit, earlier exits' heads included (docs/algorithm.md, "Counting cost")
  int64_t last_exit_only_muladds = 0;  // every block and the last exit's head only
  dataset::DataSplits data;
  infer::InferenceForm form;
  std::vector<int64_t> image_shape;  // a batch of one
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
  m.image_shape = {1, geometry.channels, geometry.height, geometry.width};
  return m;
}

// The network in the form it is deployed in: the inference form unless --training-form (docs/inference.md).
void to_deployed_form(Model& m, const Flags& flags) {
  if (!flags.training_form)
    m.form = infer::to_inference_form(
        *m.net, infer::InferenceFormOptions().channels_last(flags.memory_format == "channels_last"));
}

// How the network runs: its form and layout, and the intra-op threads for throughput (what --threads or
// the cores gave) and for batch-1 latency. Unless given (--memory-format, --threads), the layout and the
// latency thread count are the ones that time fastest for the whole network on one image (on a GPU the
// thread count is left as it is).
struct Deployment {
  int throughput_threads = 1, latency_threads = 1;
  std::string network, threads;  // what was chosen and why, for the report
};

std::string format_name(torch::MemoryFormat format) {
  return format == torch::MemoryFormat::ChannelsLast ? "channels_last" : "contiguous";
}

std::string figures(const std::vector<std::string>& names, const std::vector<double>& ms) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    char figure[96];
    std::snprintf(figure, sizeof figure, "%s%s %.3f ms", i ? ", " : "", names[i].c_str(), ms[i]);
    text += figure;
  }
  return text;
}

Deployment plan_deployment(const Flags& flags, Model& m, const torch::Device& device) {
  Deployment plan;
  plan.throughput_threads = at::get_num_threads();
  const bool choose_threads = flags.threads <= 0 && device.is_cpu();
  const auto counts = choose_threads ? infer::thread_counts_to_try(plan.throughput_threads)
                                     : std::vector<int>{plan.throughput_threads};
  std::vector<torch::MemoryFormat> formats{m.form.input_format};
  if (!flags.training_form && flags.memory_format == "auto")
    formats = {torch::MemoryFormat::Contiguous, torch::MemoryFormat::ChannelsLast};
  const auto image = torch::randn(m.image_shape).to(device);
  std::vector<infer::LatencyThreads> choices;
  std::vector<std::string> names;
  std::vector<double> best_ms;
  for (const auto format : formats) {
    if (!flags.training_form) infer::set_memory_format(*m.net, format);
    // Every exit computed: the slowest path through the engine, and the whole network's latency.
    infer::EarlyExitClassifier full(m.net, std::vector<float>(size_t(m.net->num_exits()), kNever), format);
    choices.push_back(infer::fastest_latency_threads(full, image, counts));
    names.push_back(format_name(format));
    best_ms.push_back(*std::min_element(choices.back().median_ms.begin(), choices.back().median_ms.end()));
  }
  size_t chosen = 0;  // a tie within 3% keeps contiguous, the layout LibTorch starts from
  for (size_t i = 1; i < formats.size(); ++i)
    if (best_ms[i] < 0.97 * best_ms[chosen]) chosen = i;
  m.form.input_format = formats[chosen];
  if (!flags.training_form) infer::set_memory_format(*m.net, formats[chosen]);
  plan.latency_threads = choices[chosen].threads;

  if (flags.training_form) {
    plan.network = "as trained (--training-form: BatchNorm not folded, contiguous)";
  } else {
    plan.network = "inference form: " + std::to_string(m.form.folded_batch_norms) +
                   " BatchNorms folded into their convolutions, " + names[chosen];
    plan.network += formats.size() > 1 ? ", the faster layout measured (whole network at batch 1: " +
                                             figures(names, best_ms) + ")"
                                       : " (--memory-format)";
  }
  if (!choose_threads) {
    plan.threads = std::to_string(plan.throughput_threads) + (flags.threads > 0 ? " (--threads)" : "") +
                   " for throughput and for latency";
  } else {
    std::vector<std::string> counts_tried;
    for (int n : choices[chosen].tried) counts_tried.push_back(std::to_string(n) + (n == 1 ? " thread" : " threads"));
    plan.threads = std::to_string(plan.throughput_threads) + " for throughput (the cores), " +
                   std::to_string(plan.latency_threads) + " for batch-1 latency, the fastest measured (" +
                   figures(counts_tried, choices[chosen].median_ms) + ")";
  }
  return plan;
}

// The first `count` test images, one per batch: the latency case.
dataset::BatchLoader latency_loader(const Model& m, int64_t count, bool skip_bad_images) {
  std::vector<int64_t> first(std::min<int64_t>(count, m.data.test->size()));
  std::iota(first.begin(), first.end(), 0);
  return dataset::BatchLoader(m.data.test, first, dataset::LoaderOptions().batch_size(1).skip_bad_images(skip_bad_images));
}

// One row of bench infer's table: an engine's accuracy and speed on the test set.
struct SpeedRow {
  std::string name;  // the p_index, "all" or "last"
  double accuracy = 0, muladds = 0;
  double mean_ms = 0, p50_ms = 0, p99_ms = 0;  // latency at batch 1
  double images_per_s = 0;                     // throughput at --batch-size
  std::string exits_taken;
  std::vector<std::vector<double>> latency_ms_by_exit;  // batch 1, per exit taken
};

struct SpeedTable {
  SpeedRow all, last;            // every exit computed; the network without early exits
  // Throughputs of all, last and the half budget in interleaved rounds; their rows hold the medians.
  std::vector<double> all_rounds, last_rounds, half_rounds;
  std::vector<SpeedRow> budgets;  // p_index 1..39
  size_t half = 0;               // the budget whose MUL-ADDs are nearest half the whole network's
  double decisions_ms = 0;       // exit checks and compaction per image at batch 1, at that budget
  infer::EngineProfile batch_profile;  // that budget at --batch-size: where the time goes
  int64_t images = 0, latency_images = 0;
};

// Loaders of the test set: batches of --batch-size for throughput, single images for latency.
struct TestLoaders {
  dataset::BatchLoader batches, single;
};

// The engine over the loader's images with `threads` intra-op threads: the plan's count for throughput
// or for latency.
infer::InferenceRun timed_run(infer::EarlyExitClassifier& engine, dataset::BatchLoader& loader, const Model& m,
                              const torch::Device& device, int threads, bool last_exit_only = false) {
  infer::IntraOpThreads scoped(threads);
  return infer::run_inference(engine, loader, device, m.costs, last_exit_only);
}

SpeedRow measure(infer::EarlyExitClassifier& engine, TestLoaders& test, const Model& m, const torch::Device& device,
                 const Deployment& plan, const std::string& name, bool last_exit_only = false) {
  const auto run = timed_run(engine, test.batches, m, device, plan.throughput_threads, last_exit_only);
  const auto latency = timed_run(engine, test.single, m, device, plan.latency_threads, last_exit_only);
  SpeedRow row;
  row.name = name;
  row.accuracy = run.accuracy;
  row.muladds = last_exit_only ? double(m.last_exit_only_muladds) : run.mean_muladds;
  row.mean_ms = 1e3 * latency.seconds() / double(latency.images);
  row.p50_ms = 1e3 * infer::percentile(latency.batch_seconds, 50);
  row.p99_ms = 1e3 * infer::percentile(latency.batch_seconds, 99);
  row.images_per_s = run.images_per_second();
  row.exits_taken = last_exit_only ? "last exit only" : eval::exit_histogram(run.exit_counts);
  row.latency_ms_by_exit = infer::latency_ms_by_exit(latency, m.net->num_exits());
  return row;
}

// The half budget's throughput ratios are the figures this benchmark is read for, but a shared machine's
// speed drifts by tens of percent within a minute, longer than the table takes. So the whole network, the
// last-exit-only network and the half budget are timed again in interleaved rounds, and each row keeps the
// median of its rounds.
constexpr int kHeadlineRounds = 3;

void interleave_headline_throughputs(SpeedTable& t, const Model& m, TestLoaders& test,
                                     const std::vector<float>& half_thresholds, const torch::Device& device,
                                     const Deployment& plan) {
  infer::EarlyExitClassifier full(m.net, std::vector<float>(size_t(m.net->num_exits()), kNever), m.form.input_format);
  infer::EarlyExitClassifier half(m.net, half_thresholds, m.form.input_format);
  auto& at_half = t.budgets[t.half];
  t.all_rounds = {t.all.images_per_s};
  t.last_rounds = {t.last.images_per_s};
  t.half_rounds = {at_half.images_per_s};
  for (int round = 1; round < kHeadlineRounds; ++round) {
    t.all_rounds.push_back(timed_run(full, test.batches, m, device, plan.throughput_threads).images_per_second());
    t.last_rounds.push_back(
        timed_run(full, test.batches, m, device, plan.throughput_threads, /*last_exit_only=*/true).images_per_second());
    t.half_rounds.push_back(timed_run(half, test.batches, m, device, plan.throughput_threads).images_per_second());
  }
  t.all.images_per_s = infer::percentile(t.all_rounds, 50);
  t.last.images_per_s = infer::percentile(t.last_rounds, 50);
  at_half.images_per_s = infer::percentile(t.half_rounds, 50);
}

// The baselines, then the engine at each budget's thresholds (found on the validation set).
SpeedTable measure_speed(const Model& m, TestLoaders& test, const std::vector<std::vector<float>>& thresholds,
                         const torch::Device& device, const Deployment& plan) {
  SpeedTable t;
  const int64_t exits = m.net->num_exits();
  infer::EarlyExitClassifier full(m.net, std::vector<float>(exits, kNever), m.form.input_format);
  // Warm-ups at both batch sizes: caches, lazily created kernels and (CUDA) algorithm searches.
  timed_run(full, test.batches, m, device, plan.throughput_threads);
  timed_run(full, test.single, m, device, plan.latency_threads);
  t.all = measure(full, test, m, device, plan, "all");
  t.all.exits_taken = "all exits computed";
  t.last = measure(full, test, m, device, plan, "last", /*last_exit_only=*/true);
  t.images = test.batches.num_samples();
  t.latency_images = test.single.num_samples();
  for (size_t i = 0; i < thresholds.size(); ++i) {
    infer::EarlyExitClassifier engine(m.net, thresholds[i], m.form.input_format);
    t.budgets.push_back(measure(engine, test, m, device, plan, std::to_string(i + 1)));
    const double half = 0.5 * double(m.costs.back().muladds);
    if (std::abs(t.budgets[i].muladds - half) < std::abs(t.budgets[t.half].muladds - half)) t.half = i;
  }
  interleave_headline_throughputs(t, m, test, thresholds[t.half], device, plan);
  infer::EarlyExitClassifier profiled(m.net, thresholds[t.half], m.form.input_format);
  profiled.set_profiling(true);
  timed_run(profiled, test.single, m, device, plan.latency_threads);
  t.decisions_ms = 1e3 * profiled.profile().decisions_s / double(t.latency_images);
  infer::EarlyExitClassifier batches(m.net, thresholds[t.half], m.form.input_format);
  batches.set_profiling(true);
  timed_run(batches, test.batches, m, device, plan.throughput_threads);
  t.batch_profile = batches.profile();
  return t;
}

void print_row(const SpeedRow& r, double full_rate) {
  std::printf("%5s   %7.2f   %12.3f   %8.3f / %7.3f / %7.3f      %9.1f   %8.2f   %s\n", r.name.c_str(), r.accuracy,
              r.muladds / 1e6, r.mean_ms, r.p50_ms, r.p99_ms, r.images_per_s, r.images_per_s / full_rate,
              r.exits_taken.c_str());
}

void print_latency_by_exit(const SpeedRow& r) {
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

void print_speed_table(const SpeedTable& t, const Flags& flags, const torch::Device& device) {
  std::printf("bench infer: %s on %lld test images, %s; throughput at batch %lld, latency at batch 1 "
              "over %lld images\n",
              flags.evaluate_from.c_str(), static_cast<long long>(t.images), device.str().c_str(),
              static_cast<long long>(flags.batch_size), static_cast<long long>(t.latency_images));
  std::printf("p_idx   top-1 %%   MUL-ADDs (M)   latency ms (mean / p50 / p99)   images/s   speed-up   exits taken\n");
  for (const auto* row : {&t.all, &t.last}) print_row(*row, t.all.images_per_s);
  for (const auto& row : t.budgets) print_row(row, t.all.images_per_s);
  const auto& half = t.budgets[t.half];
  std::printf("\nAt p_idx %s (MUL-ADDs nearest half the whole network's): throughput %.2fx the whole network's,\n"
              "%.2fx the last-exit-only network's; exit checks and compaction take %.3f ms per image at batch 1,\n"
              "%.1f%% of the whole network's latency (%.3f ms).\n",
              half.name.c_str(), half.images_per_s / t.all.images_per_s, half.images_per_s / t.last.images_per_s,
              t.decisions_ms, 100.0 * t.decisions_ms / t.all.mean_ms, t.all.mean_ms);
  std::printf("Throughputs behind these ratios, medians of %d interleaved rounds (images/s): whole %s; last exit "
              "only %s; p_idx %s %s.\n",
              kHeadlineRounds, rounds_text(t.all_rounds).c_str(), rounds_text(t.last_rounds).c_str(),
              half.name.c_str(), rounds_text(t.half_rounds).c_str());
  std::printf("Its batch-1 latency by exit taken (p50 / p99 ms):");
  print_latency_by_exit(half);
  const auto& p = t.batch_profile;
  std::printf("Its time at batch %lld (synchronised at each step): blocks %.1f%%, exit classifiers %.1f%%, exit checks "
              "and compaction %.1f%%.\n",
              static_cast<long long>(flags.batch_size), 100 * p.blocks_s / p.total(), 100 * p.exits_s / p.total(),
              100 * p.decisions_s / p.total());
  std::printf("The whole network's batch-1 latency: p99 / p50 = %.2f.\n", t.all.p99_ms / t.all.p50_ms);
}

void write_speed_table(const SpeedTable& t, const std::string& path) {
  std::ofstream table(path);
  table << "p_index\ttop1\tmuladds\tlatency_mean_ms\tlatency_p50_ms\tlatency_p99_ms\timages_per_s\n";
  std::vector<const SpeedRow*> rows{&t.all, &t.last};
  for (const auto& row : t.budgets) rows.push_back(&row);
  for (const auto* r : rows)
    table << r->name << '\t' << r->accuracy << '\t' << r->muladds << '\t' << r->mean_ms << '\t' << r->p50_ms << '\t'
          << r->p99_ms << '\t' << r->images_per_s << '\n';
}

// Accuracy against latency and against throughput: the budgets as a curve, the baselines as points.
void plot_speed(const SpeedTable& t, const io::RunFolder& folder, int64_t batch_size) {
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
  to_deployed_form(m, flags);
  const auto plan = plan_deployment(flags, m, device);
  infer::EarlyExitClassifier engine(m.net, thresholds.thresholds, m.form.input_format);
  dataset::BatchLoader loader(m.data.test, {},
                              dataset::LoaderOptions().batch_size(flags.batch_size).workers(flags.workers).skip_bad_images(flags.skip_bad_images));
  const auto run = timed_run(engine, loader, m, device, plan.throughput_threads);
  auto single = latency_loader(m, flags.latency_images, flags.skip_bad_images);
  const auto latency = timed_run(engine, single, m, device, plan.latency_threads);

  std::printf("Early-exit inference of %s with %s (p_idx %lld) on %lld test images, %s\n",
              flags.evaluate_from.c_str(), flags.thresholds.c_str(), static_cast<long long>(thresholds.p_index),
              static_cast<long long>(run.images), device.str().c_str());
  std::printf("  network              %s\n", plan.network.c_str());
  std::printf("  threads              %s\n", plan.threads.c_str());
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
  const io::RunFolder folder = io::RunFolder(flags.train_url).create();
  // Thresholds for the 39 budgets from the validation set, as dynamic evaluation finds them: on the network
  // as trained, so that they are eval's to the last bit.
  const auto loading = dataset::LoaderOptions().workers(flags.workers).skip_bad_images(flags.skip_bad_images);
  dataset::BatchLoader valid_loader(m.data.train, validation_subset(flags, folder, m.data.train->size()),
                                    dataset::LoaderOptions(loading).batch_size(256));
  const auto valid = eval::exit_confidences(eval::collect_outputs(*m.net, valid_loader, device));
  TestLoaders test{dataset::BatchLoader(m.data.test, {}, dataset::LoaderOptions(loading).batch_size(flags.batch_size)),
                   latency_loader(m, flags.latency_images, flags.skip_bad_images)};
  to_deployed_form(m, flags);
  const auto plan = plan_deployment(flags, m, device);
  const auto table = measure_speed(m, test, eval::budget_thresholds(valid.confidence), device, plan);
  print_machine(device);
  std::printf("network             %s\n", plan.network.c_str());
  std::printf("threads             %s\n", plan.threads.c_str());
  print_speed_table(table, flags, device);
  write_speed_table(table, folder.infer_bench());
  plot_speed(table, folder, flags.batch_size);
  return 0;
}

}  // namespace l2w::cli
