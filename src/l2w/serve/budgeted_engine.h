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

  // images: float [N, C, H, W] on the CPU; moved to the network's device.
  std::vector<ImageResult> classify(const torch::Tensor& images, size_t budget);
  const BudgetMenu& menu() const { return menu_; }

 private:
  std::vector<infer::EarlyExitClassifier> engines_;  // one per budget
  BudgetMenu menu_;
  torch::Device device_;
  int throughput_threads_, latency_threads_;
};

// Each budget's batch time on `sample` images (float [N, C, H, W], N >= 1, repeated to fill a batch):
// the median of `repeats` runs at one image and at max_batch images after a warm-up, as a line.
std::vector<ServiceTime> measure_service_times(BudgetedEngine& engine, const torch::Tensor& sample, int64_t max_batch,
                                               int repeats = 5);

}  // namespace l2w::serve
