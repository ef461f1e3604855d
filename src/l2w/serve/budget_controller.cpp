#include "l2w/serve/budget_controller.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace l2w::serve {

void ArrivalRate::add(double t_s, int64_t images) {
  rate_ = at(t_s) + static_cast<double>(images) / window_s_;
  last_s_ = std::max(last_s_, t_s);
}

double ArrivalRate::at(double t_s) const { return rate_ * std::exp(-std::max(0.0, t_s - last_s_) / window_s_); }

BudgetController::BudgetController(std::vector<ServiceTime> times, ControllerOptions options)
    : times_(std::move(times)), options_(options) {
  if (times_.empty()) throw std::invalid_argument("budget controller: no budgets");
  if (options_.pinned() >= static_cast<int64_t>(times_.size()))
    throw std::invalid_argument("budget controller: pinned budget out of range");
}

void BudgetController::set_times(std::vector<ServiceTime> times) {
  if (times.size() != times_.size()) throw std::invalid_argument("budget controller: one time per budget");
  times_ = std::move(times);
  drift_ = 1;
}

double BudgetController::predicted_latency_s(size_t b, int64_t queued_images) const {
  const int64_t batch = options_.max_batch();
  const int64_t n = std::max<int64_t>(1, queued_images);
  const int64_t full_batches = (n - 1) / batch;
  const int64_t last = n - full_batches * batch;
  return options_.max_wait_s() + drift_ * (full_batches * times_[b].of(batch) + times_[b].of(last));
}

size_t BudgetController::choose(int64_t queued_images, double arrival_rate) const {
  if (options_.pinned() >= 0) return static_cast<size_t>(options_.pinned());
  const int64_t batch = options_.max_batch();
  for (size_t b = times_.size(); b-- > 1;) {
    const double per_image_s = drift_ * times_[b].of(batch) / static_cast<double>(batch);
    const bool keeps_up = arrival_rate * per_image_s <= options_.utilization();
    const bool in_time = predicted_latency_s(b, queued_images) <= options_.latency_share() * options_.slo_s();
    if (keeps_up && in_time) return b;
  }
  return 0;
}

void BudgetController::observe(size_t b, int64_t n, double seconds) {
  const double predicted = times_[b].of(n);
  if (predicted <= 0 || seconds <= 0) return;
  drift_ = std::clamp(0.9 * drift_ + 0.1 * seconds / predicted, 0.25, 8.0);
}

}  // namespace l2w::serve
