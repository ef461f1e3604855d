// Measuring early-exit inference over a data set: accuracy, where samples leave, what they cost in
// MUL-ADDs, and wall-clock time per batch (batch 1 gives per-image latency).
#pragma once

#include <vector>

#include "l2w/dataset/batch_loader.h"
#include "l2w/infer/early_exit_classifier.h"
#include "l2w/infer/stagewise_classifier.h"
#include "l2w/nn/cost_meter.h"

namespace l2w::infer {

struct InferenceRun {
  int64_t images = 0;
  double accuracy = 0;               // percent
  std::vector<int64_t> exit_counts;  // per exit
  double mean_muladds = 0;           // per image, from where each sample left
  std::vector<double> batch_seconds; // wall-clock time of each classify call (stage-wise: of each push, then finish)
  std::vector<int64_t> batch_deepest_exit;  // per batch, the last exit any of its samples reached (per-batch only)
  double seconds() const;
  double images_per_second() const { return double(images) / seconds(); }
};

// One pass of `loader` through the engine, its batches formed by `batching` (stage-wise applies to
// batches of more than one image), or, with `full_network`, through every block and the last exit only.
// Only the engine's calls are timed; batches are prepared ahead by the loader's workers.
InferenceRun run_inference(EarlyExitClassifier& engine, dataset::BatchLoader& loader, const torch::Device& device,
                           const std::vector<nn::Cost>& costs, Batching batching, bool full_network = false);

// At batch 1, the latencies (ms) of the images that left at each exit: early exit makes latency
// multi-modal by design, so a tail is judged within an exit, not across them.
std::vector<std::vector<double>> latency_ms_by_exit(const InferenceRun& run, int64_t exits);

// The q-th percentile (0..100) of `values`, linearly interpolated as numpy.percentile does.
double percentile(std::vector<double> values, double q);

}  // namespace l2w::infer
