#include "l2w/criterion/multi_exit_loss.h"

namespace l2w::criterion {

torch::Tensor per_exit_losses(const std::vector<torch::Tensor>& logits, const torch::Tensor& labels,
                              double label_smoothing) {
  namespace F = torch::nn::functional;
  std::vector<torch::Tensor> columns;
  for (const auto& l : logits) {
    columns.push_back(F::cross_entropy(
        l, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone).label_smoothing(label_smoothing)));
  }
  return torch::stack(columns, 1);
}

torch::Tensor weighted_loss(const torch::Tensor& losses, const torch::Tensor& weights) {
  const torch::Tensor weighted = weights.defined() ? losses * weights : losses;
  return weighted.mean(0).sum();
}

torch::Tensor per_exit_confidences(const std::vector<torch::Tensor>& logits) {
  std::vector<torch::Tensor> columns;
  for (const auto& l : logits) columns.push_back(std::get<0>(torch::softmax(l, 1).max(1)));
  return torch::stack(columns, 1);
}

}  // namespace l2w::criterion
