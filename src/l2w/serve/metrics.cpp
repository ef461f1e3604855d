#include "l2w/serve/metrics.h"

#include <sstream>

namespace l2w::serve {
void Metrics::set_exits(int64_t exits) {
  std::lock_guard<std::mutex> lock(mutex_);
  exits_.assign(static_cast<size_t>(exits), 0);
}

void Metrics::count_response(const std::string& endpoint, const std::string& outcome, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& c : responses_) {
    if (c.status == status && c.endpoint == endpoint && c.outcome == outcome) {
      ++c.n;
      return;
    }
  }
  responses_.push_back({endpoint, outcome, status, 1});
}

int64_t Metrics::responses(const std::string& endpoint, int status) const {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t n = 0;
  for (const auto& c : responses_)
    if (c.status == status && c.endpoint == endpoint) n += c.n;
  return n;
}

void Metrics::record_served(const Served& served, double latency_s) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t b = 0; b < kLatencyBuckets.size(); ++b)
    if (latency_s <= kLatencyBuckets[b]) ++latency_counts_[b];
  ++latency_count_;
  latency_sum_ += latency_s;
  for (const auto& image : served.images) {
    if (static_cast<size_t>(image.exit) < exits_.size()) ++exits_[static_cast<size_t>(image.exit)];
    ++images_;
    muladds_ += static_cast<double>(image.muladds);
  }
}

std::string Metrics::prometheus(const QueueStatus* queue, const BudgetMenu* menu) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "# HELP l2w_requests_total HTTP requests answered, by endpoint, outcome and status.\n"
      << "# TYPE l2w_requests_total counter\n";
  for (const auto& c : responses_)
    out << "l2w_requests_total{endpoint=\"" << c.endpoint << "\",outcome=\"" << c.outcome << "\",code=\"" << c.status
        << "\"} " << c.n << "\n";
  out << "# HELP l2w_request_latency_seconds Time from receiving a classification request to its answer.\n"
      << "# TYPE l2w_request_latency_seconds histogram\n";
  for (size_t b = 0; b < kLatencyBuckets.size(); ++b)
    out << "l2w_request_latency_seconds_bucket{le=\"" << kLatencyBuckets[b] << "\"} " << latency_counts_[b] << "\n";
  out << "l2w_request_latency_seconds_bucket{le=\"+Inf\"} " << latency_count_ << "\n"
      << "l2w_request_latency_seconds_sum " << latency_sum_ << "\n"
      << "l2w_request_latency_seconds_count " << latency_count_ << "\n"
      << "# HELP l2w_exits_taken_total Images classified, by the exit (1-based) they left at.\n"
      << "# TYPE l2w_exits_taken_total counter\n";
  for (size_t k = 0; k < exits_.size(); ++k) out << "l2w_exits_taken_total{exit=\"" << k + 1 << "\"} " << exits_[k] << "\n";
  out << "# HELP l2w_images_muladds_total MUL-ADDs spent on the images classified.\n"
      << "# TYPE l2w_images_muladds_total counter\n"
      << "l2w_images_muladds_total " << muladds_ << "\n";
  if (queue == nullptr || menu == nullptr) return out.str();
  out << "# HELP l2w_budget_muladds The budget now: expected MUL-ADDs per image on the validation images.\n"
      << "# TYPE l2w_budget_muladds gauge\n"
      << "l2w_budget_muladds " << menu->budgets[queue->budget].valid_expected_muladds << "\n"
      << "# HELP l2w_queue_images Images waiting or being classified.\n"
      << "# TYPE l2w_queue_images gauge\n"
      << "l2w_queue_images " << queue->queued_images << "\n"
      << "# HELP l2w_arrival_rate_images_per_second The arrival rate the budget controller sees.\n"
      << "# TYPE l2w_arrival_rate_images_per_second gauge\n"
      << "l2w_arrival_rate_images_per_second " << queue->arrival_rate << "\n";
  return out.str();
}

}  // namespace l2w::serve
