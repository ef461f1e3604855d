#include "l2w/infer/stagewise_classifier.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "l2w/nn/channel_concat.h"

namespace l2w::infer {
namespace {

// An uninitialised tensor shaped as `like` but with `rows` rows, in `like`'s memory layout.
torch::Tensor empty_rows(const torch::Tensor& like, int64_t rows) {
  auto sizes = like.sizes().vec();
  sizes[0] = rows;
  return torch::empty(sizes, like.options().memory_format(like.suggest_memory_format()));
}

}  // namespace

std::string batching_name(Batching batching) { return batching == Batching::kStageWise ? "stage-wise" : "per-batch"; }

StagewiseClassifier::StagewiseClassifier(EarlyExitClassifier& engine, int64_t batch_size)
    : engine_(engine), batch_size_(batch_size), queues_(size_t(engine.num_exits())) {
  if (batch_size < 1) throw std::invalid_argument("stage-wise engine: batch size " + std::to_string(batch_size));
}

int64_t StagewiseClassifier::waiting() const {
  int64_t images = 0;
  for (const auto& queue : queues_) images += queue.count;
  return images;
}

void StagewiseClassifier::push(const torch::Tensor& images) {
  c10::InferenceMode inference;
  const int64_t n = images.size(0);
  const auto ids = torch::arange(pushed_, pushed_ + n, torch::TensorOptions().device(images.device()).dtype(torch::kLong));
  pushed_ += n;
  if (engine_.runs_whole()) {  // nobody leaves before the last exit, so nobody waits between blocks
    done_.push_back(engine_.classify(images));
    done_ids_.push_back(ids);
    return;
  }
  NoCudnnBenchmark fixed_algorithms;
  nn::ChannelArena arena;  // a full batch's maps grow from block to block in place (nn/channel_concat.h)
  engine_.start_clock();
  enqueue(0, {engine_.prepare(images)}, 1, torch::Tensor(), ids);
}

void StagewiseClassifier::enqueue(int64_t k, const std::vector<torch::Tensor>& carried, size_t features,
                                  const torch::Tensor& rows, const torch::Tensor& ids) {
  auto& queue = queues_[size_t(k)];
  const int64_t n = ids.size(0);
  if (queue.count == 0 && n == batch_size_ && !rows.defined() && carried.front().size(0) == n) {
    run(k, Queue{carried, features, ids, n}, n);  // a full batch as it is: nothing to copy
    return;
  }
  for (int64_t from = 0; from < n;) {
    if (queue.count == 0) {
      queue.carried.clear();
      for (const auto& t : carried) queue.carried.push_back(empty_rows(t, batch_size_));
      queue.features = features;
      queue.ids = torch::empty({batch_size_}, ids.options());
    }
    const int64_t take = std::min(n - from, batch_size_ - queue.count);
    const int64_t to = queue.count + take;
    for (size_t i = 0; i < carried.size(); ++i) {
      auto into = queue.carried[i].slice(0, queue.count, to);
      if (rows.defined())
        torch::index_select_out(into, carried[i], 0, rows.slice(0, from, from + take));
      else
        into.copy_(carried[i].slice(0, from, from + take));
    }
    queue.ids.slice(0, queue.count, to).copy_(ids.slice(0, from, from + take));
    queue.count = to;
    from += take;
    if (queue.count == batch_size_) run(k, std::exchange(queue, Queue{}), batch_size_);
  }
}

void StagewiseClassifier::run(int64_t k, Queue batch, int64_t real) {
  engine_.mark_decisions();  // the copies into the queue
  const auto split = batch.carried.begin() + static_cast<std::ptrdiff_t>(batch.features);
  models::Features features(batch.carried.begin(), split);
  std::vector<torch::Tensor> state;
  for (auto t = split; t != batch.carried.end(); ++t) state.push_back(t->slice(0, 0, real));
  criterion::ExitScorer scorer(engine_.exit_criterion());
  scorer.set_carried(state);
  const auto [leave, prediction, confidence] = engine_.step(k, features, real, scorer);
  const auto ids = batch.ids.slice(0, 0, real);
  const auto leaving = leave.nonzero().squeeze(1);
  const int64_t left = leaving.size(0);
  if (left > 0) {
    done_ids_.push_back(ids.index_select(0, leaving));
    done_.push_back({prediction.index_select(0, leaving), confidence.index_select(0, leaving),
                     torch::full({left}, k, ids.options())});
  }
  engine_.mark_decisions();
  if (left == real) return;
  auto carried = features;
  for (auto& t : scorer.carried()) carried.push_back(t);
  if (left == 0) {
    enqueue(k + 1, carried, features.size(), torch::Tensor(), ids);
  } else {
    const auto staying = leave.logical_not().nonzero().squeeze(1);
    enqueue(k + 1, carried, features.size(), staying, ids.index_select(0, staying));
  }
}

void StagewiseClassifier::flush(int64_t k) {
  auto& queue = queues_[size_t(k)];
  if (queue.count == 0) return;
  Queue batch = std::exchange(queue, Queue{});
  const int64_t real = batch.count;
  // The same few sizes as the per-batch engine's compacted batches, so that no new kernels are prepared.
  const int64_t size = std::min(padded_batch_size(real), batch_size_);
  for (auto& t : batch.carried) {
    t = t.slice(0, 0, size);
    if (size > real) t.slice(0, real, size).copy_(t.slice(0, real - 1, real).expand_as(t.slice(0, real, size)));
  }
  run(k, std::move(batch), real);
}

ExitDecisions StagewiseClassifier::finish() {
  c10::InferenceMode inference;
  NoCudnnBenchmark fixed_algorithms;
  nn::ChannelArena arena;
  engine_.start_clock();
  for (int64_t k = 0; k < static_cast<int64_t>(queues_.size()); ++k) flush(k);
  // Every pushed image has left by now (the last exit takes everyone): scatter the decisions by place.
  const auto on = done_.empty() ? torch::TensorOptions(torch::kLong) : done_ids_.front().options();
  ExitDecisions out{torch::empty({pushed_}, on), torch::empty({pushed_}, on.dtype(torch::kFloat32)),
                    torch::empty({pushed_}, on)};
  if (!done_.empty()) {
    const auto ids = torch::cat(done_ids_);
    std::vector<torch::Tensor> prediction, confidence, exit_index;
    for (const auto& d : done_) {
      prediction.push_back(d.prediction);
      confidence.push_back(d.confidence);
      exit_index.push_back(d.exit_index);
    }
    out.prediction.index_put_({ids}, torch::cat(prediction));
    out.confidence.index_put_({ids}, torch::cat(confidence));
    out.exit_index.index_put_({ids}, torch::cat(exit_index));
  }
  pushed_ = 0;
  done_ids_.clear();
  done_.clear();
  return out;
}

}  // namespace l2w::infer
