#include "l2w/infer/speed_test.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "l2w/runtime/device.h"

namespace l2w::infer {

double InferenceRun::seconds() const { return std::accumulate(batch_seconds.begin(), batch_seconds.end(), 0.0); }

namespace {

// The loader's images as a stream through the stage-wise engine: each push is timed, then the finish.
InferenceRun stream_through(StagewiseClassifier& stream, dataset::BatchLoader& loader, const torch::Device& device,
                            std::vector<torch::Tensor>& labels) {
  InferenceRun run;
  runtime::DeviceTimer timer(device);
  while (auto batch = loader.next()) {
    const auto images = batch->images.to(device, /*non_blocking=*/true);
    runtime::synchronize(device);  // the copy is not part of the timed classification
    timer.start();
    stream.push(images);
    run.batch_seconds.push_back(timer.seconds());
    labels.push_back(batch->labels);
    run.images += images.size(0);
  }
  return run;
}

}  // namespace

InferenceRun run_inference(EarlyExitClassifier& engine, dataset::BatchLoader& loader, const torch::Device& device,
                           const std::vector<nn::Cost>& costs, Batching batching, bool full_network) {
  const int64_t exits = static_cast<int64_t>(costs.size());
  InferenceRun run;
  run.exit_counts.assign(exits, 0);
  int64_t correct = 0;
  runtime::DeviceTimer timer(device);
  loader.start_epoch(0);
  const auto count = [&](const torch::Tensor& prediction, const torch::Tensor& exit_index, const torch::Tensor& labels) {
    correct += prediction.eq(labels).sum().item<int64_t>();
    const auto* e = exit_index.data_ptr<int64_t>();
    for (int64_t i = 0; i < exit_index.size(0); ++i) ++run.exit_counts.at(e[i]);
  };
  if (batching == Batching::kStageWise && !full_network && loader.batch_size() > 1) {
    // The stream's decisions come out at its end, in input order.
    StagewiseClassifier stream(engine, loader.batch_size());
    std::vector<torch::Tensor> labels;
    auto streamed = stream_through(stream, loader, device, labels);
    run.batch_seconds = std::move(streamed.batch_seconds);
    run.images = streamed.images;
    timer.start();
    const auto decisions = stream.finish();
    const auto prediction = decisions.prediction.cpu();
    run.batch_seconds.push_back(timer.seconds());
    if (run.images > 0) count(prediction, decisions.exit_index.cpu(), torch::cat(labels));
  } else {
    while (auto batch = loader.next()) {
      const auto images = batch->images.to(device, /*non_blocking=*/true);
      runtime::synchronize(device);  // the copy is not part of the timed classification
      timer.start();
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
      run.images += images.size(0);
    }
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
