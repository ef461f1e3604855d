// Which budget the next batch runs at (docs/serving.md, "Load-adaptive budget"). Each budget's batch
// time is measured (linear in the batch size); the controller keeps the most expensive budget that
//  - keeps up with the arrival rate with headroom: rate x (time per image in a full batch) <= utilization,
//  - and serves the newest queued image within a share of the latency target, queue ahead included.
// A measured/predicted ratio, tracked over the batches run, corrects every prediction for a machine that
// is slower or busier than at calibration. As load falls the rate estimate decays and the budget rises.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/arg.h>

namespace l2w::serve {

// The time one batch takes at a budget: fixed + per_image x n seconds.
struct ServiceTime {
  double fixed_s = 0, per_image_s = 0;
  double of(int64_t n) const { return fixed_s + per_image_s * static_cast<double>(n); }
};

// Requests per second, exponentially weighted over about `window_s` (images arriving at times t, in seconds).
class ArrivalRate {
 public:
  explicit ArrivalRate(double window_s = 0.5) : window_s_(window_s) {}
  void add(double t_s, int64_t images);
  double at(double t_s) const;  // images per second

 private:
  double window_s_, rate_ = 0, last_s_ = 0;
};

struct ControllerOptions {
  TORCH_ARG(double, slo_s) = 0.1;             // the latency a request should not exceed
  TORCH_ARG(int64_t, max_batch) = 32;         // images per batch at most
  TORCH_ARG(double, max_wait_s) = 0.002;      // how long a batch waits to fill
  TORCH_ARG(double, utilization) = 0.7;       // the engine's busy share the arrival rate may ask for
  TORCH_ARG(double, latency_share) = 0.5;     // of slo_s, for the predicted latency (the rest: the tail)
  TORCH_ARG(int64_t, pinned) = -1;            // >= 0: always this budget
};

class BudgetController {
 public:
  // `times`: one per budget, cheapest budget first.
  BudgetController(std::vector<ServiceTime> times, ControllerOptions options);

  size_t choose(int64_t queued_images, double arrival_rate) const;
  // Seconds until the last of `queued_images` is answered at budget b (the batches ahead, the wait to fill).
  double predicted_latency_s(size_t b, int64_t queued_images) const;
  // A batch of n images ran at budget b in `seconds`.
  void observe(size_t b, int64_t n, double seconds);
  // Times measured after the controller was made (a server that listens while it warms up); one per
  // budget, as at construction. The drift starts again from 1.
  void set_times(std::vector<ServiceTime> times);

  double drift() const { return drift_; }
  size_t budgets() const { return times_.size(); }
  const ControllerOptions& options() const { return options_; }

 private:
  std::vector<ServiceTime> times_;
  ControllerOptions options_;
  double drift_ = 1;
};

}  // namespace l2w::serve
