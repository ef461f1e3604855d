#include "l2w/eval/accuracy.h"

#include <algorithm>

namespace l2w::eval {

torch::Tensor topk_hits(const torch::Tensor& logits, const torch::Tensor& labels, int64_t k) {
  k = std::min<int64_t>(k, logits.size(1));
  const auto top = std::get<1>(logits.topk(k, 1));
  return top.eq(labels.view({-1, 1})).any(1).sum();
}

int64_t topk_correct(const torch::Tensor& logits, const torch::Tensor& labels, int64_t k) {
  return topk_hits(logits, labels, k).item<int64_t>();
}

}  // namespace l2w::eval
