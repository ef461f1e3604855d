#include <atomic>

#include <gtest/gtest.h>

#include "l2w/serve/inference_queue.h"

namespace l2w {
namespace {

serve::BudgetController two_budgets(int64_t max_batch, double max_wait_s) {
  return serve::BudgetController({{0.001, 0.0001}, {0.001, 0.0002}},
                                 serve::ControllerOptions().max_batch(max_batch).max_wait_s(max_wait_s).slo_s(1));
}

// Classifies image i (a [1, 1, 1] tensor holding i) as class i, at exit 0; records batch sizes.
struct EchoEngine {
  std::shared_ptr<std::vector<int64_t>> batches = std::make_shared<std::vector<int64_t>>();
  std::shared_ptr<std::atomic<bool>> hold = std::make_shared<std::atomic<bool>>(false);
  std::vector<serve::ImageResult> operator()(const torch::Tensor& images, size_t) const {
    while (*hold) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    batches->push_back(images.size(0));
    std::vector<serve::ImageResult> out;
    for (int64_t i = 0; i < images.size(0); ++i)
      out.push_back({static_cast<int64_t>(images[i].item<float>()), 1.0f, 0, 10});
    return out;
  }
};

torch::Tensor numbered(int64_t first, int64_t n) {
  return torch::arange(first, first + n, torch::kFloat32).reshape({n, 1, 1, 1});
}

TEST(InferenceQueue, BatchesWaitingRequestsAndAnswersEachWithItsOwnImages) {
  EchoEngine engine;
  *engine.hold = true;  // the first batch is held, so that the next requests gather behind it
  serve::InferenceQueue queue(engine, two_budgets(8, 0.0));
  auto first = queue.submit(numbered(0, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::vector<std::future<serve::Served>> later;
  for (int64_t r = 0; r < 5; ++r) later.push_back(*queue.submit(numbered(100 + 10 * r, 3)));
  *engine.hold = false;
  EXPECT_EQ(first->get().images[0].prediction, 0);
  for (int64_t r = 0; r < 5; ++r) {
    const auto served = later[r].get();
    ASSERT_EQ(served.images.size(), 3u);
    for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(served.images[i].prediction, 100 + 10 * r + i);
    EXPECT_EQ(served.budget, 1u);  // idle and in time: the full budget
  }
  // Whole requests up to 8 images: 1, then 3 + 3, 3 + 3, 3.
  EXPECT_EQ(*engine.batches, (std::vector<int64_t>{1, 6, 6, 3}));
}

TEST(InferenceQueue, AFullQueueRefusesAndStopServesWhatIsQueued) {
  EchoEngine engine;
  *engine.hold = true;
  serve::InferenceQueue queue(engine, two_budgets(4, 0.0), serve::QueueOptions().max_queued_images(6));
  auto a = queue.submit(numbered(0, 4));
  auto b = queue.submit(numbered(4, 2));
  EXPECT_FALSE(queue.submit(numbered(6, 1)).has_value());  // 7 > 6
  EXPECT_EQ(queue.status().queued_images, 6);
  *engine.hold = false;
  queue.stop();
  EXPECT_EQ(b->get().images[1].prediction, 5);
  EXPECT_EQ(a->get().images.size(), 4u);
  EXPECT_FALSE(queue.submit(numbered(0, 1)).has_value());
  EXPECT_EQ(queue.status().served_images, 6);
}

}  // namespace
}  // namespace l2w
