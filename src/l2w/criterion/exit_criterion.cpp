#include "l2w/criterion/exit_criterion.h"

#include <limits>
#include <stdexcept>

namespace l2w::criterion {

std::string exit_criterion_name(ExitCriterion criterion) {
  switch (criterion) {
    case ExitCriterion::kEntropy:
      return "entropy";
    case ExitCriterion::kMargin:
      return "margin";
    case ExitCriterion::kPatience:
      return "patience";
    case ExitCriterion::kMaxProb:
      break;
  }
  return "max-prob";
}

const std::vector<ExitCriterion>& all_exit_criteria() {
  static const std::vector<ExitCriterion> all{ExitCriterion::kMaxProb, ExitCriterion::kEntropy, ExitCriterion::kMargin,
                                              ExitCriterion::kPatience};
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
    case ExitCriterion::kPatience:
      throw std::invalid_argument("exit_score: patience depends on the previous exits (patience_score)");
    case ExitCriterion::kMaxProb:
      break;
  }
  return std::get<0>(probabilities.max(1));
}

float largest_score(ExitCriterion criterion) {
  switch (criterion) {
    case ExitCriterion::kEntropy:
      return 0.0f;
    case ExitCriterion::kPatience:
      return std::numeric_limits<float>::infinity();
    case ExitCriterion::kMaxProb:
    case ExitCriterion::kMargin:
      break;
  }
  return 1.0f;
}

torch::Tensor patience_score(const torch::Tensor& prediction, const torch::Tensor& previous_prediction,
                             const torch::Tensor& previous_score) {
  const auto zero = torch::zeros(prediction.sizes(), prediction.options().dtype(torch::kFloat32));
  if (!previous_prediction.defined()) return zero;
  return torch::where(prediction.eq(previous_prediction), previous_score + 1, zero);
}

std::vector<float> patience_thresholds(int64_t exits, int64_t patience) {
  std::vector<float> t(static_cast<size_t>(exits), static_cast<float>(patience));
  t.back() = -std::numeric_limits<float>::infinity();
  return t;
}

ExitScorer::Scored ExitScorer::next(const torch::Tensor& probabilities) {
  auto [max_prob, prediction] = probabilities.max(1);
  if (criterion_ == ExitCriterion::kMaxProb) return {max_prob, prediction};
  if (criterion_ != ExitCriterion::kPatience) return {exit_score(probabilities, criterion_), prediction};
  previous_score_ = patience_score(prediction, previous_prediction_, previous_score_);
  previous_prediction_ = prediction;
  return {previous_score_, prediction};
}

void ExitScorer::keep_rows(const torch::Tensor& rows) {
  if (!previous_prediction_.defined()) return;
  previous_prediction_ = previous_prediction_.index_select(0, rows);
  previous_score_ = previous_score_.index_select(0, rows);
}

std::vector<torch::Tensor> ExitScorer::carried() const {
  if (!previous_prediction_.defined()) return {};
  return {previous_prediction_, previous_score_};
}

void ExitScorer::set_carried(const std::vector<torch::Tensor>& state) {
  if (state.empty()) {
    previous_prediction_ = previous_score_ = torch::Tensor();
    return;
  }
  if (state.size() != 2 || criterion_ != ExitCriterion::kPatience)
    throw std::invalid_argument("exit scorer: " + std::to_string(state.size()) + " carried tensors for " +
                                exit_criterion_name(criterion_));
  previous_prediction_ = state[0];
  previous_score_ = state[1];
}

}  // namespace l2w::criterion
