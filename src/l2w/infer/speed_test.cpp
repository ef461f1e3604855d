#include "l2w/infer/speed_test.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "l2w/runtime/device.h"

namespace l2w::infer {

double InferenceRun::seconds() const { return std::accumulate(batch_seconds.begin(), batch_seconds.end(), 0.0); }

InferenceRun run_inference(EarlyExitClassifier& engine, dataset::BatchLoader& loader, const torch::Device& device,
                           const std::vector<nn::Cost>& costs, Batching batching, bool full_network) {
  const int64_t exits = static_cast<int64_t>(costs.size());
  InferenceRun run;
  run.exit_counts.assign(exits, 0);
  int64_t correct = 0;
  const auto count = [&](const torch::Tensor& prediction, const torch::Tensor& exit_index, const torch::Tensor& labels) {
    correct += prediction.eq(labels).sum().item<int64_t>();
    const auto* e = exit_index.data_ptr<int64_t>();
    for (int64_t i = 0; i < exit_index.size(0); ++i) ++run.exit_counts.at(e[i]);
  };
  // Stage-wise, each push is timed and the decisions come out at the stream's end, in input order.
  std::optional<StagewiseClassifier> stream;
  if (batching == Batching::kStageWise && !full_network && loader.batch_size() > 1)
    stream.emplace(engine, loader.batch_size());
  std::vector<torch::Tensor> stream_labels;
  runtime::DeviceTimer timer(device);
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const auto images = batch->images.to(device, /*non_blocking=*/true);
    runtime::synchronize(device);  // the copy is not part of the timed classification
    timer.start();
    run.images += images.size(0);
    if (stream) {
      stream->push(images);
      run.batch_seconds.push_back(timer.seconds());
      stream_labels.push_back(batch->labels);
      continue;
    }
    torch::Tensor prediction, exit_index;
    if (full_network) {
      prediction = engine.classify_full(images).cpu();
      exit_index = torch::full({images.size(0)}, exits - 1, torch::kLong);
    } else {
      auto decisions = engine.classify(images);
      prediction = decisions.prediction.cpu();
      exit_index = decisions.exit_index.cpu();
    }
    run.batch_seconds.push_back(timer.seconds());
    run.batch_deepest_exit.push_back(exit_index.max().item<int64_t>());
    count(prediction, exit_index, batch->labels);
  }
  if (stream) {
    timer.start();
    const auto decisions = stream->finish();
    const auto prediction = decisions.prediction.cpu();
    run.batch_seconds.push_back(timer.seconds());
    if (run.images > 0) count(prediction, decisions.exit_index.cpu(), torch::cat(stream_labels));
  }
  if (run.images == 0) throw std::runtime_error("inference: the data set is empty");
  run.accuracy = 100.0 * double(correct) / double(run.images);
  for (int64_t k = 0; k < exits; ++k)
    run.mean_muladds += double(run.exit_counts[k]) / double(run.images) * double(costs[k].muladds);
  return run;
}

std::vector<std::vector<double>> latency_ms_by_exit(const InferenceRun& run, int64_t exits) {
  std::vector<std::vector<double>> ms(exits);
  for (size_t i = 0; i < run.batch_deepest_exit.size(); ++i) ms.at(run.batch_deepest_exit[i]).push_back(1e3 * run.batch_seconds[i]);
  return ms;
}
double percentile(std::vector<double> values, double q) {
  if (values.empty()) throw std::invalid_argument("percentile of nothing");
  std::sort(values.begin(), values.end());
  const double position = q / 100.0 * double(values.size() - 1);
  const auto below = static_cast<size_t>(position);
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (position - double(below)) * (values[above] - values[below]);
}

}  // namespace l2w::infer
