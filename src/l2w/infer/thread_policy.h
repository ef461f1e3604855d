// How many intra-op threads inference uses (docs/inference.md, "Threads"). Throughput at a large batch
// keeps every core busy; a single image is a chain of small operators, where splitting each one across
// threads may cost more in hand-offs than it saves. Which count is fastest for one image depends on the
// network and the machine, so it is measured, not assumed.
#pragma once

#include <vector>

#include "l2w/infer/early_exit_classifier.h"

namespace l2w::infer {

// While alive, LibTorch's intra-op pool runs `threads` threads; the previous count comes back after.
class IntraOpThreads {
 public:
  explicit IntraOpThreads(int threads);
  ~IntraOpThreads();
  IntraOpThreads(const IntraOpThreads&) = delete;
  IntraOpThreads& operator=(const IntraOpThreads&) = delete;

 private:
  int previous_;
};

// The counts worth trying on `cores` cores: 1, 2, 4, ... and `cores` itself.
std::vector<int> thread_counts_to_try(int cores);

struct LatencyThreads {
  int threads = 1;                  // the fastest count
  std::vector<int> tried;           // the counts measured
  std::vector<double> median_ms;    // the median batch-1 time of each
};

// Times the engine on `image` (a batch of one), `repeats` times with each count after a warm-up, and picks
// the count with the lowest median; a tie within 3% goes to the fewer threads. Give it thresholds of +inf
// to time the whole network with every exit computed: the path of an image that reaches the last exit.
LatencyThreads fastest_latency_threads(EarlyExitClassifier& engine, const torch::Tensor& image,
                                       const std::vector<int>& counts, int repeats = 40);

}  // namespace l2w::infer
