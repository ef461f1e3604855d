// The deployed network at each budget of a menu: the batch engine the inference queue runs, and the
// measurement of each budget's batch time that the budget controller predicts from.
#pragma once

#include <vector>

#include "l2w/infer/deployment.h"
#include "l2w/infer/early_exit_classifier.h"
#include "l2w/serve/budget_controller.h"
#include "l2w/serve/budget_menu.h"
#include "l2w/serve/inference_queue.h"

namespace l2w::serve {

class BudgetedEngine {
 public:
  // `m` is deployed and planned (infer/deployment.h); a batch of one runs on `latency_threads` intra-op
  // threads, larger batches on `throughput_threads`, as `l2w infer` measures them.
  BudgetedEngine(const infer::DeployedNetwork& m, BudgetMenu menu, int throughput_threads, int latency_threads);

  // images: float [N, C, H, W] on the CPU; moved to the network's device. The batch is padded to
  // infer::padded_batch_size(N) with copies of its last image, so that, with the early-exit engine's
  // compaction, every layer sees one of a few batch sizes: each new size costs a kernel preparation
  // that takes longer than the batch (docs/inference.md), which a server would pay in its latency tail.
  std::vector<ImageResult> classify(const torch::Tensor& images, size_t budget);
  // Runs every layer at every padded batch size up to max_batch once, so that no request pays for a
  // kernel preparation.
  void warm_up(const torch::Tensor& image, int64_t max_batch);
  const BudgetMenu& menu() const { return menu_; }

 private:
  std::vector<infer::EarlyExitClassifier> engines_;  // one per budget
  infer::EarlyExitClassifier every_exit_;            // thresholds no image reaches: every layer at one size
  BudgetMenu menu_;
  torch::Device device_;
  int throughput_threads_, latency_threads_;
};

// A budget's batch time on `sample` images (float [N, C, H, W], N >= 1, repeated to fill a batch): the
// median of `repeats` runs at one image and at max_batch images after a warm-up, as a line.
ServiceTime measure_service_time(BudgetedEngine& engine, const torch::Tensor& sample, int64_t max_batch, size_t budget,
                                 int repeats = 5);
// Every budget's.
std::vector<ServiceTime> measure_service_times(BudgetedEngine& engine, const torch::Tensor& sample, int64_t max_batch,
                                               int repeats = 5);

}  // namespace l2w::serve
