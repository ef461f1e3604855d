#include "l2w/train/cuda_graph_step.h"

#include <chrono>
#include <iostream>
#include <stdexcept>

#ifdef L2W_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace l2w::train {
#ifdef L2W_WITH_CUDA

struct CudaGraphStep::Graph {
  int64_t warmed = 0;  // eager iterations of this kind so far
  bool captured = false;
  at::cuda::CUDAGraph graph;
  torch::Tensor images, labels;  // the graph's inputs: each batch is copied in
  StepReport report;             // the graph's outputs
};

namespace {

// The report's tensors copied out of the graph's memory, which the next replay overwrites.
StepReport copy_of(const StepReport& r) {
  StepReport c;
  for (const auto& l : r.logits) c.logits.push_back(l.defined() ? l.clone() : l);
  for (auto [from, to] : {std::pair{&r.losses, &c.losses}, std::pair{&r.weights, &c.weights},
                          std::pair{&r.meta_loss, &c.meta_loss}, std::pair{&r.grad_norm, &c.grad_norm}})
    if (from->defined()) *to = from->clone();
  return c;
}

// `to` waits for the work queued so far on `from`.
void join(const c10::cuda::CUDAStream& from, const c10::cuda::CUDAStream& to) {
  at::cuda::CUDAEvent event;
  event.record(from);
  event.block(to);
}

}  // namespace

CudaGraphStep::CudaGraphStep(std::unique_ptr<TrainStep> inner, int64_t warmup)
    : inner_(std::move(inner)), warmup_(warmup) {}

CudaGraphStep::~CudaGraphStep() = default;

StepReport CudaGraphStep::run(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition& position) {
  inner_->prepare(position);
  const int k = inner_->kind(position) != 0 ? 1 : 0;
  if (!images.is_cuda() || !refused_.empty()) return inner_->compute(images, labels, position);
  if (!graphs_[k]) graphs_[k] = std::make_unique<Graph>();
  Graph& g = *graphs_[k];
  if (g.captured) {
    if (images.sizes() != g.images.sizes() || labels.sizes() != g.labels.sizes())
      return inner_->compute(images, labels, position);  // another shape: eagerly
    return replay(g, images, labels);
  }
  if (g.warmed < warmup_) {
    ++g.warmed;
    return warm_up(images, labels, position);
  }
  try {
    capture(g, images, labels, position);
  } catch (const std::exception& e) {
    refused_ = e.what();
    std::cerr << "l2w: the training step could not be captured as a CUDA graph; it runs eagerly: "
              << refused_.substr(0, refused_.find('\n')) << std::endl;
    graphs_[k].reset();
    return inner_->compute(images, labels, position);
  }
  return replay(g, images, labels);
}

StepReport CudaGraphStep::warm_up(const torch::Tensor& images, const torch::Tensor& labels,
                                  const StepPosition& position) {
  // On a side stream, as the capture will be: the allocator and cuDNN set up what the capture reuses.
  const auto current = c10::cuda::getCurrentCUDAStream();
  const auto side = c10::cuda::getStreamFromPool();
  join(current, side);
  StepReport report;
  {
    c10::cuda::CUDAStreamGuard guard(side);
    report = inner_->compute(images, labels, position);
  }
  join(side, current);
  return report;
}

void CudaGraphStep::capture(Graph& g, const torch::Tensor& images, const torch::Tensor& labels,
                            const StepPosition& position) {
  const auto start = std::chrono::steady_clock::now();
  g.images = images.clone();
  g.labels = labels.clone();
  const auto current = c10::cuda::getCurrentCUDAStream();
  const auto side = c10::cuda::getStreamFromPool();
  join(current, side);
  {
    c10::cuda::CUDAStreamGuard guard(side);
    g.graph.capture_begin();
    try {
      g.report = inner_->compute(g.images, g.labels, position);
    } catch (...) {
      try {
        g.graph.capture_end();
      } catch (...) {
      }
      throw;
    }
    g.graph.capture_end();
  }
  join(side, current);
  g.captured = true;
  capture_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

StepReport CudaGraphStep::replay(Graph& g, const torch::Tensor& images, const torch::Tensor& labels) {
  if (!images.is_same(g.images)) g.images.copy_(images, /*non_blocking=*/true);
  if (!labels.is_same(g.labels)) g.labels.copy_(labels, /*non_blocking=*/true);
  g.graph.replay();
  ++replays_;
  return copy_of(g.report);
}

#else  // a LibTorch without CUDA: nothing is ever captured

struct CudaGraphStep::Graph {};

CudaGraphStep::CudaGraphStep(std::unique_ptr<TrainStep> inner, int64_t warmup)
    : inner_(std::move(inner)), warmup_(warmup), refused_("this l2w was built without CUDA") {}

CudaGraphStep::~CudaGraphStep() = default;

StepReport CudaGraphStep::run(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition& position) {
  return inner_->run(images, labels, position);
}

#endif

}  // namespace l2w::train
