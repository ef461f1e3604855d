// The whole training iteration as a CUDA graph (docs/gpu.md, "CUDA graphs"). A small network's step is
// thousands of kernel launches that each take the host longer than the GPU; captured once, the
// iteration is one launch. The wrapped step (plain, L2W exact or fd) is run eagerly for a few warm-up
// iterations of each kind (meta, real-only) on a side stream, then captured, then replayed for every
// batch of the captured shape; a batch of another shape (an epoch's ragged last batch) runs eagerly, so
// the numbers are those of eager training. Capturing is possible because the step never waits for the
// host; a step that cannot be captured runs eagerly, with one message saying why.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "l2w/train/train_step.h"

namespace l2w::train {

class CudaGraphStep : public TrainStep {
 public:
  // `warmup` eager iterations of each kind before its capture.
  explicit CudaGraphStep(std::unique_ptr<TrainStep> inner, int64_t warmup = 3);
  ~CudaGraphStep() override;

  StepReport run(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition& position) override;
  void prepare(const StepPosition& position) override { inner_->prepare(position); }
  StepReport compute(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition& position) override {
    return inner_->compute(images, labels, position);
  }
  int kind(const StepPosition& position) const override { return inner_->kind(position); }
  bool has_meta() const override { return inner_->has_meta(); }
  double meta_lr() const override { return inner_->meta_lr(); }
  void save(io::Checkpoint& checkpoint) const override { inner_->save(checkpoint); }
  void load(const io::Checkpoint& checkpoint) override { inner_->load(checkpoint); }
  std::vector<torch::Tensor> shared_state() const override { return inner_->shared_state(); }

  // Seconds spent capturing so far (all kinds), iterations replayed, and why capturing was given up
  // (empty while it works).
  double capture_seconds() const { return capture_seconds_; }
  int64_t replays() const { return replays_; }
  const std::string& refused() const { return refused_; }

 private:
  struct Graph;  // one captured iteration kind, CUDA types inside
  StepReport replay(Graph& g, const torch::Tensor& images, const torch::Tensor& labels);
  StepReport warm_up(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition& position);
  void capture(Graph& g, const torch::Tensor& images, const torch::Tensor& labels, const StepPosition& position);

  std::unique_ptr<TrainStep> inner_;
  int64_t warmup_;
  std::array<std::unique_ptr<Graph>, 2> graphs_;
  double capture_seconds_ = 0;
  int64_t replays_ = 0;
  std::string refused_;
};

}  // namespace l2w::train
