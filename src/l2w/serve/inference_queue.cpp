#include "l2w/serve/inference_queue.h"

namespace l2w::serve {
namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

InferenceQueue::InferenceQueue(BatchEngine engine, BudgetController controller, QueueOptions options)
    : engine_(std::move(engine)), controller_(std::move(controller)), options_(options) {
  done_.budget = controller_.budgets() - 1;
  worker_ = std::thread([this] { work(); });
}

InferenceQueue::~InferenceQueue() { stop(); }

double InferenceQueue::now_s() const { return seconds_between(start_, std::chrono::steady_clock::now()); }

std::optional<std::future<Served>> InferenceQueue::submit(torch::Tensor images) {
  const int64_t n = images.size(0);
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_ || (queued_images_ > 0 && queued_images_ + n > options_.max_queued_images())) return std::nullopt;
  Job job{std::move(images), std::chrono::steady_clock::now(), {}};
  auto answer = job.answer.get_future();
  arrivals_.add(now_s(), n);
  jobs_.push_back(std::move(job));
  queued_images_ += n;
  wake_.notify_one();
  return answer;
}

void InferenceQueue::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void InferenceQueue::set_service_times(std::vector<ServiceTime> times) {
  std::lock_guard<std::mutex> lock(mutex_);
  controller_.set_times(std::move(times));
}

QueueStatus InferenceQueue::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  QueueStatus s = done_;
  s.queued_images = queued_images_;
  s.arrival_rate = arrivals_.at(now_s());
  s.drift = controller_.drift();
  return s;
}

// Waits for the first job, then up to max_wait for the batch to fill; takes whole jobs up to max_batch
// images (a larger job alone).
std::vector<InferenceQueue::Job> InferenceQueue::next_batch(std::unique_lock<std::mutex>& lock) {
  wake_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
  if (jobs_.empty()) return {};
  const int64_t max_batch = controller_.options().max_batch();
  const auto deadline = jobs_.front().arrival + std::chrono::duration<double>(controller_.options().max_wait_s());
  wake_.wait_until(lock, deadline, [&] { return queued_images_ >= max_batch || stopping_; });
  std::vector<Job> batch;
  int64_t n = 0;
  while (!jobs_.empty() && (batch.empty() || n + jobs_.front().images.size(0) <= max_batch)) {
    n += jobs_.front().images.size(0);
    batch.push_back(std::move(jobs_.front()));
    jobs_.pop_front();
  }
  return batch;
}

void InferenceQueue::work() {
  for (;;) {
    std::vector<Job> batch;
    size_t budget = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      batch = next_batch(lock);
      if (batch.empty()) return;
      // The queue as the batch leaves: its own images and those that arrived while it gathered.
      budget = controller_.choose(queued_images_, arrivals_.at(now_s()));
    }
    run_batch(std::move(batch), budget);
  }
}

void InferenceQueue::run_batch(std::vector<Job> jobs, size_t budget) {
  std::vector<torch::Tensor> parts;
  for (const auto& job : jobs) parts.push_back(job.images);
  const auto images = parts.size() == 1 ? parts[0] : torch::cat(parts);
  const auto start = std::chrono::steady_clock::now();
  std::vector<ImageResult> results;
  std::exception_ptr failure;
  try {
    results = engine_(images, budget);
  } catch (...) {
    failure = std::current_exception();
  }
  const double compute_s = seconds_between(start, std::chrono::steady_clock::now());
  const int64_t n = images.size(0);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queued_images_ -= n;
    if (!failure) controller_.observe(budget, n, compute_s);
    done_.budget = budget;
    done_.served_images += failure ? 0 : n;
    done_.batches += 1;
  }
  int64_t at = 0;
  for (auto& job : jobs) {
    const int64_t k = job.images.size(0);
    if (failure) {
      job.answer.set_exception(failure);
      continue;
    }
    Served served;
    served.images.assign(results.begin() + at, results.begin() + at + k);
    served.budget = budget;
    served.queue_s = seconds_between(job.arrival, start);
    served.compute_s = compute_s;
    served.batch_images = n;
    job.answer.set_value(std::move(served));
    at += k;
  }
}

}  // namespace l2w::serve
