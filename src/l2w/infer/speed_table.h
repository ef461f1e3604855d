// `bench infer`'s measurements (docs/inference.md, "Benchmark"): a deployed network's accuracy, cost,
// batch-1 latency and throughput with every exit computed, without early exits, and at each budget's
// thresholds, and where the time goes at the budget nearest half the whole network's cost.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "l2w/dataset/batch_loader.h"
#include "l2w/infer/deployment.h"
#include "l2w/infer/speed_test.h"

namespace l2w::infer {

// One row: an engine's accuracy and speed on the test set.
struct SpeedRow {
  std::string name;  // the p_index, "all" or "last"
  double accuracy = 0, muladds = 0;
  double mean_ms = 0, p50_ms = 0, p99_ms = 0;  // latency at batch 1
  double images_per_s = 0;                     // throughput at the loader's batch size
  // The whole network's throughput (every exit computed) that the row's speed-up is against: the
  // machine's speed drifts, so a row is compared with whole-network passes timed just before and after
  // it (with several rounds: images_per_s over the median of the rounds' speed-ups).
  double whole_images_per_s = 0;
  std::string exits_taken;
  std::vector<int64_t> exit_counts;  // images per exit taken (empty for the baselines)
  // The speed-up a perfect engine would reach: the whole network's time per image in each block and exit
  // at this batch size, paid by the images that reach them. Below the MUL-ADD reduction where the network
  // runs its early blocks' MUL-ADDs more slowly than its late ones'.
  double bound_speed_up = 0;
  std::vector<std::vector<double>> latency_ms_by_exit;  // batch 1, per exit taken

  double speed_up() const { return images_per_s / whole_images_per_s; }
  // Early-exit efficiency: the speed-up over the whole network divided by the MUL-ADD reduction (the whole
  // network's MUL-ADDs over the row's average). 1 when every MUL-ADD saved became time saved.
  double efficiency(double whole_muladds) const { return speed_up() * muladds / whole_muladds; }
  double efficiency_bound(double whole_muladds) const { return bound_speed_up * muladds / whole_muladds; }
};

// A shared machine's speed drifts by tens of percent within a minute, longer than the table takes, so
// the throughputs behind the headline ratios (whole network, last exit only, half budget) are timed
// again in this many interleaved rounds and each row keeps the median of its rounds.
constexpr int kHeadlineRounds = 3;

struct SpeedTable {
  SpeedRow all, last;  // every exit computed; the network without early exits
  std::vector<double> all_rounds, last_rounds, half_rounds;  // throughputs of the interleaved rounds
  // With stage-wise batching: the half budget by the per-batch engine, in the same rounds, for comparison.
  std::vector<double> half_per_batch_rounds;
  std::vector<double> whole_passes;  // the whole network's throughputs between the budgets' passes
  std::vector<SpeedRow> budgets;  // one per thresholds set, in order
  size_t half = 0;                // the budget whose MUL-ADDs are nearest half the whole network's
  double decisions_ms = 0;        // exit checks and compaction per image at batch 1, at that budget
  EngineProfile batch_profile;    // that budget at the throughput batch size: where the time goes
  std::vector<double> stage_share;  // the whole network at that batch size: each block and exit's share of its time
  int64_t images = 0, latency_images = 0;
};

// The test set twice: batches for throughput, single images for latency.
struct TestLoaders {
  dataset::BatchLoader batches, single;
};

// The first `count` images of `data`, one per batch: the latency case.
dataset::BatchLoader first_images_one_at_a_time(std::shared_ptr<const dataset::ImageDataset> data, int64_t count,
                                                bool skip_bad_images);

// One pass of the loader through the engine with `threads` intra-op threads, batched by `batching` (or,
// with `last_exit_only`, the network without early exits).
InferenceRun timed_run(EarlyExitClassifier& engine, dataset::BatchLoader& loader, const DeployedNetwork& m,
                       const torch::Device& device, int threads, Batching batching, bool last_exit_only = false);

// The baselines, then the engine at each of `thresholds` (at least one set, scores by `criterion`), the
// headline rounds and the half budget's profiles. Each budget's throughput is timed between two passes
// of the whole network, its speed-up against their mean, `rounds` times over; a row keeps the median
// throughput and the median speed-up.
SpeedTable measure_speed(const DeployedNetwork& m, TestLoaders& test, const std::vector<std::vector<float>>& thresholds,
                         const torch::Device& device, const Deployment& plan,
                         criterion::ExitCriterion criterion = criterion::ExitCriterion::kMaxProb, int rounds = 1);

// The budgets in [lowest, 1] x the whole network's MUL-ADDs: the smallest early-exit efficiency among
// them, and its row (nullptr when none).
const SpeedRow* least_efficient(const SpeedTable& t, double whole_muladds, double lowest = 0.25);

// The table as tab-separated values: p_index, top1, muladds, latency mean/p50/p99 (ms), images/s, the
// whole network's images/s next to it, speed-up and early-exit efficiency.
void write_speed_table(const SpeedTable& t, const std::string& path);

}  // namespace l2w::infer
