#include "l2w/infer/speed_table.h"
#include "l2w/runtime/atomic_file.h"

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
  if (!last_exit_only) row.exit_counts = run.exit_counts;
  row.latency_ms_by_exit = latency_ms_by_exit(latency, m.net->num_exits());
  return row;
}

void interleave_headline_throughputs(SpeedTable& t, const DeployedNetwork& m, TestLoaders& test,
                                     const std::vector<float>& half_thresholds, const torch::Device& device,
                                     const Deployment& plan, criterion::ExitCriterion criterion) {
  EarlyExitClassifier full(m, never_exit(m.net->num_exits()));
  full.set_compute_every_exit(true);
  EarlyExitClassifier half(m, half_thresholds, criterion);
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

// Each budget's speed-up bound from the whole network's time per block and exit at the batch size.
void set_speed_up_bounds(SpeedTable& t, const DeployedNetwork& m, TestLoaders& test, const torch::Device& device,
                         const Deployment& plan) {
  EarlyExitClassifier whole(m, never_exit(m.net->num_exits()));
  whole.set_compute_every_exit(true);
  whole.set_profiling(true);
  timed_run(whole, test.batches, m, device, plan.throughput_threads, Batching::kPerBatch);
  const auto& stage_s = whole.profile().stage_s;
  const double total = std::accumulate(stage_s.begin(), stage_s.end(), 0.0);
  t.stage_share.clear();
  for (const double s : stage_s) t.stage_share.push_back(s / total);
  // An image that left at exit k ran stages 0..k: that share of the whole network's time.
  std::vector<double> up_to(t.stage_share.size());
  std::partial_sum(t.stage_share.begin(), t.stage_share.end(), up_to.begin());
  for (auto& row : t.budgets) {
    double time = 0, images = 0;
    for (size_t k = 0; k < row.exit_counts.size(); ++k) {
      images += double(row.exit_counts[k]);
      time += double(row.exit_counts[k]) * up_to.at(k);
    }
    row.bound_speed_up = images / time;
  }
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
                         const torch::Device& device, const Deployment& plan, criterion::ExitCriterion criterion,
                         int rounds) {
  if (thresholds.empty()) throw std::invalid_argument("measure_speed: no thresholds to measure");
  if (rounds < 1) throw std::invalid_argument("measure_speed: " + std::to_string(rounds) + " rounds");
  SpeedTable t;
  EarlyExitClassifier full(m, never_exit(m.net->num_exits()));
  full.set_compute_every_exit(true);
  // Warm-ups at both batch sizes: caches, lazily created kernels and (CUDA) algorithm searches.
  timed_run(full, test.batches, m, device, plan.throughput_threads, plan.batching);
  timed_run(full, test.single, m, device, plan.latency_threads, plan.batching);
  t.all = measure(full, test, m, device, plan, "all");
  t.all.exits_taken = "all exits computed";
  t.last = measure(full, test, m, device, plan, "last", /*last_exit_only=*/true);
  t.images = test.batches.num_samples();
  t.latency_images = test.single.num_samples();
  std::vector<EarlyExitClassifier> engines;
  for (const auto& set : thresholds) engines.emplace_back(m, set, criterion);
  const auto pass = [&](EarlyExitClassifier& engine) {
    return timed_run(engine, test.batches, m, device, plan.throughput_threads, plan.batching).images_per_second();
  };
  // Whole, budget 1, whole, budget 2, ..., whole: each budget next to the whole network, in every round.
  std::vector<std::vector<double>> rates(thresholds.size()), speed_ups(thresholds.size());
  for (int round = 0; round < rounds; ++round) {
    t.whole_passes.push_back(pass(full));
    for (size_t i = 0; i < thresholds.size(); ++i) {
      if (round == 0)
        t.budgets.push_back(measure(engines[i], test, m, device, plan, std::to_string(eval::candidate_index(criterion, i))));
      rates[i].push_back(round == 0 ? t.budgets[i].images_per_s : pass(engines[i]));
      t.whole_passes.push_back(pass(full));
      speed_ups[i].push_back(rates[i].back() / (0.5 * (t.whole_passes[t.whole_passes.size() - 2] + t.whole_passes.back())));
    }
  }
  // The median of each round's speed-up: a round compares passes seconds apart, so drift cancels within it.
  const double half = 0.5 * double(m.costs.back().muladds);
  for (size_t i = 0; i < t.budgets.size(); ++i) {
    t.budgets[i].images_per_s = percentile(rates[i], 50);
    t.budgets[i].whole_images_per_s = t.budgets[i].images_per_s / percentile(speed_ups[i], 50);
    if (std::abs(t.budgets[i].muladds - half) < std::abs(t.budgets[t.half].muladds - half)) t.half = i;
  }
  interleave_headline_throughputs(t, m, test, thresholds[t.half], device, plan, criterion);
  EarlyExitClassifier profiled(m, thresholds[t.half], criterion);
  profiled.set_profiling(true);
  timed_run(profiled, test.single, m, device, plan.latency_threads, plan.batching);
  t.decisions_ms = 1e3 * profiled.profile().decisions_s / double(t.latency_images);
  EarlyExitClassifier batches(m, thresholds[t.half], criterion);
  batches.set_profiling(true);
  timed_run(batches, test.batches, m, device, plan.throughput_threads, plan.batching);
  t.batch_profile = batches.profile();
  set_speed_up_bounds(t, m, test, device, plan);
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
  std::ostringstream table;
  table << "p_index\ttop1\tmuladds\tlatency_mean_ms\tlatency_p50_ms\tlatency_p99_ms\timages_per_s\t"
           "whole_images_per_s\tspeed_up\tefficiency\tefficiency_bound\n";
  std::vector<const SpeedRow*> rows{&t.all, &t.last};
  for (const auto& row : t.budgets) rows.push_back(&row);
  for (const auto* r : rows)
    table << r->name << '\t' << r->accuracy << '\t' << r->muladds << '\t' << r->mean_ms << '\t' << r->p50_ms << '\t'
          << r->p99_ms << '\t' << r->images_per_s << '\t' << r->whole_images_per_s << '\t' << r->speed_up() << '\t'
          << r->efficiency(t.all.muladds) << '\t' << r->efficiency_bound(t.all.muladds) << '\n';
  runtime::write_file_atomically(path, table.str());
}

}  // namespace l2w::infer
