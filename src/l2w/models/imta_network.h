// IMTA's second stage (docs/algorithm.md, "IMTA"): a trained multi-exit network, frozen, with new heads
// that collaborate inline (ISC). Head 0 is a Linear on exit 0's features; head k > 0 a Linear on exit k's
// features concatenated with an ISC module (Linear from the classes to that width, BatchNorm1d, ReLU)
// applied to head k-1's logits, so that each exit builds on the one before.
//
// Head k depends on every earlier head, so head k runs inside block k and its logits travel with the
// features (their last tensor) to the next block; exit k only reads them. Early-exit inference compacts
// them with the features, and cost counting charges each head to its block: no exit can be computed
// without the heads before it.
#pragma once

#include "l2w/models/multi_exit_network.h"

namespace l2w::models {

class ImtaNetworkImpl : public MultiExitNetworkImpl {
 public:
  // `backbone` (its parameters set to requires_grad = false) and new heads for `num_classes` classes.
  ImtaNetworkImpl(MultiExitNetwork backbone, int64_t num_classes);

  int64_t num_exits() const override { return backbone_->num_exits(); }
  Features run_block(int64_t k, const Features& in) override;
  torch::Tensor run_exit(int64_t k, const Features& features) override;
  std::string arch() const override { return "IMTA_" + backbone_->arch(); }
  // The heads train. The backbone follows the mode as in IMTA's code (its model.train() reaches the
  // frozen backbone): in training it normalises with each batch's statistics and its running statistics
  // move, while its parameters stay fixed. With freeze_backbone_statistics(true) it stays in eval mode
  // and its buffers do not change.
  void train(bool on = true) override;
  void freeze_backbone_statistics(bool on);
  bool backbone_statistics_frozen() const { return frozen_statistics_; }

  // The backbone's own last-exit logits from the latest pass through the last block in training mode
  // (detached), computed in the backbone's mode of that pass: the teacher of one-for-all knowledge
  // distillation.
  const torch::Tensor& teacher_logits() const { return teacher_; }
  MultiExitNetwork backbone() const { return backbone_; }

 private:
  MultiExitNetwork backbone_;
  torch::nn::ModuleList classifier, isc_modules;
  torch::Tensor teacher_;
  bool frozen_statistics_ = false;
};
TORCH_MODULE(ImtaNetwork);

}  // namespace l2w::models
