#include "l2w/infer/speed_table.h"

#include <cmath>
#include <fstream>
#include <numeric>
#include <stdexcept>

#include "l2w/eval/dynamic.h"
#include "l2w/infer/thread_policy.h"

namespace l2w::infer {
namespace {

SpeedRow measure(EarlyExitClassifier& engine, TestLoaders& test, const DeployedNetwork& m, const torch::Device& device,
                 const Deployment& plan, const std::string& name, bool last_exit_only = false) {
  const auto run = timed_run(engine, test.batches, m, device, plan.throughput_threads, plan.batching, last_exit_only);
  const auto latency = timed_run(engine, test.single, m, device, plan.latency_threads, plan.batching, last_exit_only);
  SpeedRow row;
  row.name = name;
  row.accuracy = run.accuracy;
  row.muladds = last_exit_only ? double(m.last_exit_only_muladds) : run.mean_muladds;
  row.mean_ms = 1e3 * latency.seconds() / double(latency.images);
  row.p50_ms = 1e3 * percentile(latency.batch_seconds, 50);
  row.p99_ms = 1e3 * percentile(latency.batch_seconds, 99);
  row.images_per_s = run.images_per_second();
  row.exits_taken = last_exit_only ? "last exit only" : eval::exit_histogram(run.exit_counts);
  row.latency_ms_by_exit = latency_ms_by_exit(latency, m.net->num_exits());
  return row;
}

void interleave_headline_throughputs(SpeedTable& t, const DeployedNetwork& m, TestLoaders& test,
                                     const std::vector<float>& half_thresholds, const torch::Device& device,
                                     const Deployment& plan, criterion::ExitCriterion criterion) {
  EarlyExitClassifier full(m.net, never_exit(m.net->num_exits()), m.form.input_format);
  EarlyExitClassifier half(m.net, half_thresholds, m.form.input_format, criterion);
  auto& at_half = t.budgets[t.half];
  t.all_rounds = {t.all.images_per_s};
  t.last_rounds = {t.last.images_per_s};
  t.half_rounds = {at_half.images_per_s};
  for (int round = 1; round < kHeadlineRounds; ++round) {
    t.all_rounds.push_back(timed_run(full, test.batches, m, device, plan.throughput_threads, plan.batching).images_per_second());
    t.last_rounds.push_back(
        timed_run(full, test.batches, m, device, plan.throughput_threads, plan.batching, /*last_exit_only=*/true).images_per_second());
    t.half_rounds.push_back(timed_run(half, test.batches, m, device, plan.throughput_threads, plan.batching).images_per_second());
  }
  if (plan.batching == Batching::kStageWise) {
    for (int round = 0; round < kHeadlineRounds; ++round)
      t.half_per_batch_rounds.push_back(
          timed_run(half, test.batches, m, device, plan.throughput_threads, Batching::kPerBatch).images_per_second());
  }
  t.all.images_per_s = percentile(t.all_rounds, 50);
  t.last.images_per_s = percentile(t.last_rounds, 50);
  at_half.images_per_s = percentile(t.half_rounds, 50);
  for (auto* row : {&t.all, &t.last, &at_half}) row->whole_images_per_s = t.all.images_per_s;
}

}  // namespace

dataset::BatchLoader first_images_one_at_a_time(std::shared_ptr<const dataset::ImageDataset> data, int64_t count,
                                                bool skip_bad_images) {
  std::vector<int64_t> first(size_t(std::min<int64_t>(count, data->size())));
  std::iota(first.begin(), first.end(), 0);
  return dataset::BatchLoader(std::move(data), first,
                              dataset::LoaderOptions().batch_size(1).skip_bad_images(skip_bad_images));
}

InferenceRun timed_run(EarlyExitClassifier& engine, dataset::BatchLoader& loader, const DeployedNetwork& m,
                       const torch::Device& device, int threads, Batching batching, bool last_exit_only) {
  IntraOpThreads scoped(threads);
  return run_inference(engine, loader, device, m.costs, batching, last_exit_only);
}

SpeedTable measure_speed(const DeployedNetwork& m, TestLoaders& test, const std::vector<std::vector<float>>& thresholds,
                         const torch::Device& device, const Deployment& plan, criterion::ExitCriterion criterion) {
  if (thresholds.empty()) throw std::invalid_argument("measure_speed: no thresholds to measure");
  SpeedTable t;
  EarlyExitClassifier full(m.net, never_exit(m.net->num_exits()), m.form.input_format);
  // Warm-ups at both batch sizes: caches, lazily created kernels and (CUDA) algorithm searches.
  timed_run(full, test.batches, m, device, plan.throughput_threads, plan.batching);
  timed_run(full, test.single, m, device, plan.latency_threads, plan.batching);
  t.all = measure(full, test, m, device, plan, "all");
  t.all.exits_taken = "all exits computed";
  t.last = measure(full, test, m, device, plan, "last", /*last_exit_only=*/true);
  t.images = test.batches.num_samples();
  t.latency_images = test.single.num_samples();
  const double half = 0.5 * double(m.costs.back().muladds);
  const auto whole_pass = [&] {
    return timed_run(full, test.batches, m, device, plan.throughput_threads, plan.batching).images_per_second();
  };
  for (size_t i = 0; i < thresholds.size(); ++i) {
    if (i % kBudgetsPerWholePass == 0) t.whole_passes.push_back(whole_pass());
    EarlyExitClassifier engine(m.net, thresholds[i], m.form.input_format, criterion);
    t.budgets.push_back(measure(engine, test, m, device, plan, std::to_string(eval::candidate_index(criterion, i))));
    if (std::abs(t.budgets[i].muladds - half) < std::abs(t.budgets[t.half].muladds - half)) t.half = i;
  }
  t.whole_passes.push_back(whole_pass());
  for (size_t i = 0; i < t.budgets.size(); ++i) {
    const size_t group = i / kBudgetsPerWholePass;
    t.budgets[i].whole_images_per_s = 0.5 * (t.whole_passes[group] + t.whole_passes[group + 1]);
  }
  interleave_headline_throughputs(t, m, test, thresholds[t.half], device, plan, criterion);
  EarlyExitClassifier profiled(m.net, thresholds[t.half], m.form.input_format, criterion);
  profiled.set_profiling(true);
  timed_run(profiled, test.single, m, device, plan.latency_threads, plan.batching);
  t.decisions_ms = 1e3 * profiled.profile().decisions_s / double(t.latency_images);
  EarlyExitClassifier batches(m.net, thresholds[t.half], m.form.input_format, criterion);
  batches.set_profiling(true);
  timed_run(batches, test.batches, m, device, plan.throughput_threads, plan.batching);
  t.batch_profile = batches.profile();
  return t;
}

const SpeedRow* least_efficient(const SpeedTable& t, double whole_muladds, double lowest) {
  const SpeedRow* least = nullptr;
  for (const auto& row : t.budgets) {
    if (row.muladds < lowest * whole_muladds || row.muladds > whole_muladds) continue;
    if (!least || row.efficiency(whole_muladds) < least->efficiency(whole_muladds)) least = &row;
  }
  return least;
}

void write_speed_table(const SpeedTable& t, const std::string& path) {
  std::ofstream table(path);
  table << "p_index\ttop1\tmuladds\tlatency_mean_ms\tlatency_p50_ms\tlatency_p99_ms\timages_per_s\t"
           "whole_images_per_s\tspeed_up\tefficiency\n";
  std::vector<const SpeedRow*> rows{&t.all, &t.last};
  for (const auto& row : t.budgets) rows.push_back(&row);
  for (const auto* r : rows)
    table << r->name << '\t' << r->accuracy << '\t' << r->muladds << '\t' << r->mean_ms << '\t' << r->p50_ms << '\t'
          << r->p99_ms << '\t' << r->images_per_s << '\t' << r->whole_images_per_s << '\t' << r->speed_up() << '\t'
          << r->efficiency(t.all.muladds) << '\n';
  if (!table) throw std::runtime_error(path + ": cannot write the speed table");
}

}  // namespace l2w::infer
