// IMTA's one-for-all knowledge distillation (docs/algorithm.md, "IMTA"): every exit but the last learns
// from the labels and from a teacher, the frozen first-stage network's last exit.
#pragma once

#include <vector>

#include <torch/torch.h>

#include "l2w/runtime/option_list.h"

namespace l2w::criterion {

struct DistillationOptions {
  TORCH_ARG(double, temperature) = 1.0;  // T: IMTA's published run (its code's default is 3)
  TORCH_ARG(double, gamma) = 0.1;        // the teacher's share (its code's default is 0.9)

 public:
  static const options::OptionList<DistillationOptions>& option_list();
};

// CE(last exit) + Σ_{k<K-1} [(1 - γ) CE_k + γ T² KL_k], the cross-entropies averaged over the batch and
// KL_k = kl_div(log_softmax(z_k / T), softmax(teacher / T)) averaged over every element (samples and
// classes alike, as IMTA's code computes it): the teacher's distribution against exit k's.
torch::Tensor one_for_all_distillation_loss(const std::vector<torch::Tensor>& logits, const torch::Tensor& labels,
                                            const torch::Tensor& teacher, const DistillationOptions& options);

}  // namespace l2w::criterion
