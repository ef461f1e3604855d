#include "l2w/infer/thread_policy.h"

#include <stdexcept>

#include "l2w/infer/speed_test.h"
#include "l2w/runtime/device.h"

namespace l2w::infer {

IntraOpThreads::IntraOpThreads(int threads) : previous_(at::get_num_threads()) { at::set_num_threads(threads); }
IntraOpThreads::~IntraOpThreads() { at::set_num_threads(previous_); }

std::vector<int> thread_counts_to_try(int cores) {
  std::vector<int> counts;
  for (int n = 1; n < cores; n *= 2) counts.push_back(n);
  counts.push_back(std::max(1, cores));
  return counts;
}

LatencyThreads fastest_latency_threads(EarlyExitClassifier& engine, const torch::Tensor& image,
                                       const std::vector<int>& counts, int repeats) {
  if (counts.empty() || image.size(0) != 1) throw std::invalid_argument("fastest_latency_threads: one image, some counts");
  LatencyThreads result;
  runtime::DeviceTimer timer(image.device());
  for (int n : counts) {
    IntraOpThreads threads(n);
    std::vector<double> ms;
    for (int i = 0; i < repeats + repeats / 4; ++i) {
      timer.start();
      engine.classify(image);
      if (i >= repeats / 4) ms.push_back(1e3 * timer.seconds());  // the first quarter warms up
      else timer.seconds();
    }
    result.tried.push_back(n);
    result.median_ms.push_back(percentile(ms, 50));
  }
  size_t best = 0;
  for (size_t i = 1; i < counts.size(); ++i)
    if (result.median_ms[i] < 0.97 * result.median_ms[best]) best = i;
  result.threads = result.tried[best];
  return result;
}

}  // namespace l2w::infer
