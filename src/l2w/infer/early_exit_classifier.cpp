#include "l2w/infer/early_exit_classifier.h"

#include <cmath>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "l2w/infer/deployment.h"
#include "l2w/nn/channel_concat.h"
#include "l2w/runtime/device.h"

namespace l2w::infer {
namespace {

// `rows` followed by copies of its last entry, `size` entries in all.
torch::Tensor padded(const torch::Tensor& rows, int64_t size) {
  const int64_t extra = size - rows.size(0);
  return extra == 0 ? rows : torch::cat({rows, rows.slice(0, -1).expand({extra})});
}

}  // namespace

NoCudnnBenchmark::NoCudnnBenchmark() : previous_(at::globalContext().benchmarkCuDNN()) {
  at::globalContext().setBenchmarkCuDNN(false);
}

NoCudnnBenchmark::~NoCudnnBenchmark() { at::globalContext().setBenchmarkCuDNN(previous_); }

int64_t padded_batch_size(int64_t n) {
  if (n <= 4) return n;
  if (n <= 32) {
    int64_t size = 4;  // 4, 6, 8, 12, 16, 24, 32: each a third or a half more than the one before
    while (size < n) size = size % 3 == 0 ? size / 3 * 4 : size / 2 * 3;
    return size;
  }
  // Above 32 the padding would waste up to a third of the work on a geometric grid (measured: 6-13 % of
  // the demo network's early-exit throughput), so the steps are a sixteenth of the power of two at or above n, at least 16.
  int64_t octave = 64;
  while (octave < n) octave *= 2;
  const int64_t step = std::max<int64_t>(16, octave / 16);
  return (n + step - 1) / step * step;
}

torch::Tensor select_rows(const torch::Tensor& batch, const torch::Tensor& rows) {
  auto sizes = batch.sizes().vec();
  sizes[0] = rows.size(0);
  auto out = torch::empty(sizes, batch.options().memory_format(batch.suggest_memory_format()));
  return torch::index_select_out(out, batch, 0, rows);
}

EarlyExitClassifier::EarlyExitClassifier(models::MultiExitNetwork net, std::vector<float> thresholds,
                                         torch::MemoryFormat input_format, criterion::ExitCriterion criterion,
                                         std::vector<float> temperatures)
    : net_(std::move(net)),
      thresholds_(std::move(thresholds)),
      device_(net_->parameters().front().device()),
      dtype_(net_->parameters().front().scalar_type()),
      input_format_(input_format),
      criterion_(criterion),
      temperatures_(std::move(temperatures)) {
  if (!temperatures_.empty() && static_cast<int64_t>(temperatures_.size()) != net_->num_exits())
    throw std::invalid_argument("early exit: " + std::to_string(temperatures_.size()) + " temperatures for a network with " +
                                std::to_string(net_->num_exits()) + " exits");
  if (static_cast<int64_t>(thresholds_.size()) != net_->num_exits())
    throw std::invalid_argument("early exit: " + std::to_string(thresholds_.size()) + " thresholds for a network with " +
                                std::to_string(net_->num_exits()) + " exits");
  // +inf (no image leaves here) and -inf (every image does) are thresholds; NaN would never compare true.
  for (size_t k = 0; k < thresholds_.size(); ++k)
    if (std::isnan(thresholds_[k])) throw std::invalid_argument("early exit: threshold " + std::to_string(k + 1) + " is NaN");
  for (size_t k = 0; k < temperatures_.size(); ++k)
    if (!(temperatures_[k] > 0) || !std::isfinite(temperatures_[k]))
      throw std::invalid_argument("early exit: temperature " + std::to_string(k + 1) + " is " +
                                  std::to_string(temperatures_[k]) + ", expected a positive number");
  net_->eval();
}

EarlyExitClassifier::EarlyExitClassifier(const DeployedNetwork& m, std::vector<float> thresholds,
                                         criterion::ExitCriterion criterion, std::vector<float> temperatures)
    : EarlyExitClassifier(m.net, std::move(thresholds), m.form.input_format, criterion, std::move(temperatures)) {
  stages_ = m.stages;
  stages_for_single_ = stages_ && m.stages_for_single;
  stages_for_batches_ = stages_ && m.stages_for_batches;
}

void EarlyExitClassifier::mark(double& bucket) {
  if (!profiling_) return;
  runtime::synchronize(device_);
  const auto now = std::chrono::steady_clock::now();
  bucket += std::chrono::duration<double>(now - last_).count();
  last_ = now;
}

void EarlyExitClassifier::start_clock() {
  if (profiling_) last_ = std::chrono::steady_clock::now();
}

bool EarlyExitClassifier::can_leave_at(int64_t k) const {
  return k + 1 == num_exits() || thresholds_[size_t(k)] <= criterion::largest_score(criterion_);
}

bool EarlyExitClassifier::exits_early() const {
  for (int64_t k = 0; k + 1 < num_exits(); ++k)
    if (can_leave_at(k)) return true;
  return false;
}

criterion::ExitScorer::Scored EarlyExitClassifier::score(int64_t k, torch::Tensor logits,
                                                         criterion::ExitScorer& scorer) const {
  logits = logits.to(torch::kFloat32);
  if (!temperatures_.empty() && temperatures_[size_t(k)] != 1) logits = logits / temperatures_[size_t(k)];
  return scorer.next(torch::softmax(logits, 1));
}

EarlyExitClassifier::ExitStep EarlyExitClassifier::step(int64_t k, models::Features& features, int64_t real,
                                                        criterion::ExitScorer& scorer) {
  const auto begun = last_;
  const bool decides = computes_exit(k);
  torch::Tensor logits;
  // The features are the same tensors whichever engine made them, so a batch compacted to one image may
  // go on in the other.
  if (features.front().size(0) == 1 ? stages_for_single_ : stages_for_batches_) {
    logits = stages_->run_stage(k, features);  // a stage graph computes its exit, used or not
    mark(profile_.blocks_s);  // one graph: the exit's classifier is not timed apart
  } else {
    if (stages_for_batches_)  // a batch OpenVINO began, compacted to one image: its features are float32
      for (auto& f : features) f = f.to(dtype_);
    features = net_->run_block(k, features);
    mark(profile_.blocks_s);
    if (decides) logits = net_->run_exit(k, features);
    mark(profile_.exits_s);
  }
  if (profiling_) {
    profile_.stage_s.resize(std::max(profile_.stage_s.size(), size_t(k + 1)), 0.0);
    profile_.stage_s[size_t(k)] += std::chrono::duration<double>(last_ - begun).count();
  }
  if (!decides) {  // nobody leaves, and the criterion carries nothing from here (it is not patience)
    const auto on = torch::TensorOptions().device(features.front().device());
    return {torch::zeros({real}, on.dtype(torch::kBool)), torch::zeros({real}, on.dtype(torch::kLong)),
            torch::zeros({real}, on.dtype(torch::kFloat32))};
  }
  if (logits.size(0) > real) logits = logits.slice(0, 0, real);
  auto [confidence, prediction] = score(k, logits, scorer);
  const bool last = k + 1 == net_->num_exits();
  auto leave = last ? torch::ones_like(confidence, torch::kBool) : confidence.ge(thresholds_[k]);
  return {std::move(leave), std::move(prediction), std::move(confidence)};
}

ExitDecisions EarlyExitClassifier::classify(const torch::Tensor& images) {
  if (runs_whole()) return classify_whole(images);
  c10::InferenceMode inference;
  NoCudnnBenchmark fixed_algorithms;
  nn::ChannelArena arena;  // feature maps grow across blocks in place (nn/channel_concat.h)
  const int64_t n = images.size(0);
  const auto on = torch::TensorOptions().device(images.device());
  start_clock();
  if (n == 1) return classify_one(images);
  ExitDecisions out{torch::empty({n}, on.dtype(torch::kLong)), torch::empty({n}, on.dtype(torch::kFloat32)),
                    torch::empty({n}, on.dtype(torch::kLong))};
  models::Features features{prepare(images)};
  torch::Tensor inside;  // original rows of the samples still inside; undefined while all are
  criterion::ExitScorer scorer(criterion_);
  int64_t real = n;  // the first `real` rows of `features` are samples; the rest pad the batch
  for (int64_t k = 0; k < net_->num_exits(); ++k) {
    const auto [leave, prediction, confidence] = step(k, features, real, scorer);
    const auto leaving = leave.nonzero().squeeze(1);
    if (leaving.size(0) > 0) {
      const auto rows = inside.defined() ? inside.index_select(0, leaving) : leaving;
      out.prediction.index_put_({rows}, prediction.index_select(0, leaving));
      out.confidence.index_put_({rows}, confidence.index_select(0, leaving));
      out.exit_index.index_put_({rows}, torch::full({leaving.size(0)}, k, on.dtype(torch::kLong)));
    }
    const int64_t left = real - leaving.size(0);
    if (left == 0) {
      mark(profile_.decisions_s);
      break;
    }
    if (leaving.size(0) > 0) {
      // Compact: only the samples still inside go on, padded to one of a few batch sizes.
      const auto staying = leave.logical_not().nonzero().squeeze(1);
      const auto rows = padded(staying, padded_batch_size(left));
      for (auto& f : features) f = select_rows(f, rows);
      inside = inside.defined() ? inside.index_select(0, staying) : staying;
      scorer.keep_rows(staying);
      real = left;
    }
    mark(profile_.decisions_s);
  }
  return out;
}

// One image: the same steps without a batch's bookkeeping (which rows leave, where their results go,
// compaction), which at batch 1 cost as much as a stage of a small network computed by OpenVINO.
ExitDecisions EarlyExitClassifier::classify_one(const torch::Tensor& image) {
  models::Features features{prepare(image)};
  criterion::ExitScorer scorer(criterion_);
  for (int64_t k = 0;; ++k) {
    auto [leave, prediction, confidence] = step(k, features, 1, scorer);
    const bool leaves = leave.item<bool>();  // always at the last exit
    mark(profile_.decisions_s);
    if (leaves) {
      auto exit = torch::full({1}, k, prediction.options());
      return {std::move(prediction), std::move(confidence), std::move(exit)};
    }
  }
}

// No image can leave early: the whole network in one pass (one graph on another engine), and the last
// exit's decisions for every image.
ExitDecisions EarlyExitClassifier::classify_whole(const torch::Tensor& images) {
  c10::InferenceMode inference;
  start_clock();
  const auto logits = full_logits(images);
  mark(profile_.blocks_s);
  criterion::ExitScorer scorer(criterion_);
  const int64_t last = num_exits() - 1;
  auto [confidence, prediction] = score(last, logits, scorer);
  auto exit = torch::full({images.size(0)}, last, prediction.options());
  mark(profile_.decisions_s);
  return {std::move(prediction), std::move(confidence), std::move(exit)};
}

torch::Tensor EarlyExitClassifier::classify_full(const torch::Tensor& images) {
  c10::InferenceMode inference;
  return full_logits(images).argmax(1);
}

torch::Tensor EarlyExitClassifier::full_logits(const torch::Tensor& images) {
  c10::InferenceMode inference;
  nn::ChannelArena arena;
  if (images.size(0) == 1 ? stages_for_single_ : stages_for_batches_) return stages_->run_whole(images);
  models::Features features{prepare(images)};
  for (int64_t k = 0; k < net_->num_exits(); ++k) features = net_->run_block(k, features);
  return net_->run_exit(net_->num_exits() - 1, features).to(torch::kFloat32);
}

}  // namespace l2w::infer
