#include "l2w/serve/budgeted_engine.h"

#include <algorithm>
#include <chrono>


namespace l2w::serve {

BudgetedEngine::BudgetedEngine(const infer::DeployedNetwork& m, BudgetMenu menu, int throughput_threads,
                               int latency_threads)
    : every_exit_(m, infer::never_exit(m.net->num_exits()), menu.criterion),
      menu_(std::move(menu)),
      device_(m.net->parameters().front().device()),
      throughput_threads_(throughput_threads),
      latency_threads_(latency_threads) {
  every_exit_.set_compute_every_exit(true);  // its warm-up prepares every stage's shapes
  for (const auto& b : menu_.budgets) engines_.emplace_back(m, b.thresholds, menu_.criterion);
}

std::vector<ImageResult> BudgetedEngine::classify(const torch::Tensor& images, size_t budget) {
  const int threads = images.size(0) == 1 ? latency_threads_ : throughput_threads_;
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
  const int64_t n = images.size(0), padded = infer::padded_batch_size(n);
  auto batch = images.to(device_);
  if (padded > n) batch = torch::cat({batch, batch.slice(0, n - 1, n).expand({padded - n, -1, -1, -1})});
  std::vector<ImageResult> out(static_cast<size_t>(n));
  if (menu_.is_full(budget)) {
    const auto probabilities = torch::softmax(engines_[budget].full_logits(batch).to(torch::kFloat32), 1).cpu();
    const auto [top, prediction] = probabilities.max(1);
    const auto p = prediction.accessor<int64_t, 1>();
    const auto c = top.accessor<float, 1>();
    const int64_t last = static_cast<int64_t>(menu_.exit_muladds.size()) - 1;
    for (size_t i = 0; i < out.size(); ++i) out[i] = {p[i], c[i], last, menu_.full_muladds};
    return out;
  }
  const auto d = engines_[budget].classify(batch);
  const auto prediction = d.prediction.cpu(), exit = d.exit_index.cpu(), confidence = d.confidence.cpu();
  const auto p = prediction.accessor<int64_t, 1>(), k = exit.accessor<int64_t, 1>();
  const auto c = confidence.accessor<float, 1>();
  for (size_t i = 0; i < out.size(); ++i) out[i] = {p[i], c[i], k[i], menu_.exit_muladds[k[i]]};
  return out;
}

void BudgetedEngine::warm_up(const torch::Tensor& image, int64_t max_batch) {
  for (int64_t n = 1; n <= max_batch; n = infer::padded_batch_size(n) + 1) {
    const auto batch = image.slice(0, 0, 1).to(device_).expand({infer::padded_batch_size(n), -1, -1, -1}).contiguous();
    every_exit_.classify(batch);
    every_exit_.full_logits(batch);
  }
}

namespace {

double median_seconds(BudgetedEngine& engine, const torch::Tensor& images, size_t budget, int repeats) {
  engine.classify(images, budget);  // warm-up: kernels prepared for this batch's shapes
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    engine.classify(images, budget);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

// `sample` repeated to fill a batch of max_batch images.
torch::Tensor filled_batch(const torch::Tensor& sample, int64_t max_batch) {
  const int64_t copies = (max_batch + sample.size(0) - 1) / sample.size(0);
  return sample.repeat({copies, 1, 1, 1}).slice(0, 0, max_batch).contiguous();
}

ServiceTime time_budget(BudgetedEngine& engine, const torch::Tensor& one, const torch::Tensor& full, size_t budget,
                        int repeats) {
  const int64_t max_batch = full.size(0);
  const double t1 = median_seconds(engine, one, budget, repeats);
  const double tn = median_seconds(engine, full, budget, repeats);
  ServiceTime t;
  t.per_image_s = max_batch > 1 ? std::max(0.0, (tn - t1) / static_cast<double>(max_batch - 1)) : tn;
  t.fixed_s = std::max(0.0, tn - t.per_image_s * static_cast<double>(max_batch));
  return t;
}

}  // namespace

ServiceTime measure_service_time(BudgetedEngine& engine, const torch::Tensor& sample, int64_t max_batch, size_t budget,
                                 int repeats) {
  return time_budget(engine, sample.slice(0, 0, 1), filled_batch(sample, max_batch), budget, repeats);
}

std::vector<ServiceTime> measure_service_times(BudgetedEngine& engine, const torch::Tensor& sample, int64_t max_batch,
                                               int repeats) {
  const auto one = sample.slice(0, 0, 1), full = filled_batch(sample, max_batch);
  std::vector<ServiceTime> times;
  for (size_t b = 0; b < engine.menu().budgets.size(); ++b) times.push_back(time_budget(engine, one, full, b, repeats));
  return times;
}

}  // namespace l2w::serve
