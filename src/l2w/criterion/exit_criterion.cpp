#include "l2w/criterion/exit_criterion.h"

namespace l2w::criterion {

std::string exit_criterion_name(ExitCriterion criterion) {
  switch (criterion) {
    case ExitCriterion::kEntropy:
      return "entropy";
    case ExitCriterion::kMargin:
      return "margin";
    case ExitCriterion::kMaxProb:
      break;
  }
  return "max-prob";
}

const std::vector<ExitCriterion>& all_exit_criteria() {
  static const std::vector<ExitCriterion> all{ExitCriterion::kMaxProb, ExitCriterion::kEntropy, ExitCriterion::kMargin};
  return all;
}

std::optional<ExitCriterion> exit_criterion_from_name(const std::string& name) {
  for (const auto c : all_exit_criteria())
    if (exit_criterion_name(c) == name) return c;
  return std::nullopt;
}

torch::Tensor exit_score(const torch::Tensor& probabilities, ExitCriterion criterion) {
  switch (criterion) {
    case ExitCriterion::kEntropy:
      // 0·log 0 is 0: xlogy gives it without a NaN.
      return torch::xlogy(probabilities, probabilities).sum(1);
    case ExitCriterion::kMargin: {
      if (probabilities.size(1) < 2) return torch::ones({probabilities.size(0)}, probabilities.options());
      const auto top = std::get<0>(probabilities.topk(2, 1));
      return top.select(1, 0) - top.select(1, 1);
    }
    case ExitCriterion::kMaxProb:
      break;
  }
  return std::get<0>(probabilities.max(1));
}

}  // namespace l2w::criterion
