// What `GET /metrics` reports, in Prometheus' text format (docs/serving.md): requests by outcome, a
// latency histogram, the exits images took, and the server's budget and queue now.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "l2w/serve/budget_menu.h"
#include "l2w/serve/inference_queue.h"

namespace l2w::serve {

class Metrics {
 public:
  // The exits' count comes with the network, once it is loaded (set_exits).
  Metrics() = default;
  void set_exits(int64_t exits);

  // Every HTTP answer, by endpoint ("classify", "readyz", ...), outcome ("ok", "overloaded",
  // "not_ready", ...) and status.
  void count_response(const std::string& endpoint, const std::string& outcome, int status);
  void record_served(const Served& served, double latency_s);

  int64_t responses(const std::string& endpoint, int status) const;
  // The queue and menu are null while the network is being loaded: their gauges are left out.
  std::string prometheus(const QueueStatus* queue, const BudgetMenu* menu) const;

  // Upper bounds (seconds) of the latency histogram's buckets.
  static constexpr std::array<double, 14> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075,
                                                             0.1,   0.15,   0.25,  0.5,  1,     2.5,  5};

 private:
  struct Count {
    std::string endpoint, outcome;
    int status;
    int64_t n;
  };
  mutable std::mutex mutex_;
  std::vector<Count> responses_;
  std::array<int64_t, kLatencyBuckets.size()> latency_counts_{};
  int64_t latency_count_ = 0;
  double latency_sum_ = 0;
  std::vector<int64_t> exits_;
  int64_t images_ = 0;
  double muladds_ = 0;
};

}  // namespace l2w::serve
