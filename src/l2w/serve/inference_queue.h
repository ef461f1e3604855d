// Dynamic batching (docs/serving.md): requests' images wait in one bounded queue; a worker thread takes
// them as a batch once max_batch images are waiting or the oldest has waited max_wait, asks the budget
// controller for the budget, runs the engine and answers each request with its own images' results.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "l2w/serve/budget_controller.h"

namespace l2w::serve {

// One image's answer.
struct ImageResult {
  int64_t prediction = 0;
  float confidence = 0;  // the criterion's score at the exit taken
  int64_t exit = 0;      // 0-based
  int64_t muladds = 0;   // what the image cost
};

// A request's answer: its images' results and where its time went.
struct Served {
  std::vector<ImageResult> images;
  size_t budget = 0;     // index in the menu
  double queue_s = 0;    // from submission to the start of its batch
  double compute_s = 0;  // its batch's engine time
  int64_t batch_images = 0;
};

// Classifies a batch [N, C, H, W] at a budget (index in the menu); called on the worker thread only.
using BatchEngine = std::function<std::vector<ImageResult>(const torch::Tensor& images, size_t budget)>;

struct QueueOptions {
  TORCH_ARG(int64_t, max_queued_images) = 256;  // beyond this, submit refuses (the server answers 503)
};

struct QueueStatus {
  int64_t queued_images = 0;
  size_t budget = 0;  // the last batch's
  double arrival_rate = 0, drift = 1;
  int64_t served_images = 0, batches = 0;
};

class InferenceQueue {
 public:
  InferenceQueue(BatchEngine engine, BudgetController controller, QueueOptions options = {});
  ~InferenceQueue();  // stop()
  InferenceQueue(const InferenceQueue&) = delete;
  InferenceQueue& operator=(const InferenceQueue&) = delete;

  // Queues the images [n, C, H, W] of one request; nullopt when they do not fit or the queue is stopping.
  std::optional<std::future<Served>> submit(torch::Tensor images);
  // Serves what is queued, then ends the worker; later submits are refused.
  void stop();
  // The controller's batch times, measured after the queue started (BudgetController::set_times).
  void set_service_times(std::vector<ServiceTime> times);
  QueueStatus status() const;

 private:
  struct Job {
    torch::Tensor images;
    std::chrono::steady_clock::time_point arrival;
    std::promise<Served> answer;
  };
  void work();
  std::vector<Job> next_batch(std::unique_lock<std::mutex>& lock);
  void run_batch(std::vector<Job> jobs, size_t budget);
  double now_s() const;

  BatchEngine engine_;
  BudgetController controller_;
  QueueOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  int64_t queued_images_ = 0;
  bool stopping_ = false;
  ArrivalRate arrivals_;
  QueueStatus done_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::thread worker_;
};

}  // namespace l2w::serve
