// How confident an exit is in a sample, the score compared with the exit's threshold in dynamic
// evaluation and early-exit inference (docs/exit_policies.md). A larger score leaves earlier; every
// criterion's thresholds are fitted the same way, as target shares of validation images per exit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace l2w::criterion {

enum class ExitCriterion {
  kMaxProb,  // the largest softmax probability (the reference's)
  kEntropy,  // minus the entropy of the softmax, in nats: Σ p·log p, at most 0
  kMargin,   // the largest softmax probability minus the second largest
  // PABEE's patience: how many exits in a row before this one predicted the same class (0 at the first
  // exit). Its thresholds are one patience t at every exit but the last; candidates are t = 0..K-1.
  kPatience,
};

std::string exit_criterion_name(ExitCriterion criterion);  // "max-prob", "entropy", "margin", "patience"
std::optional<ExitCriterion> exit_criterion_from_name(const std::string& name);
const std::vector<ExitCriterion>& all_exit_criteria();

// Each sample's score (float32 [N]) from one exit's softmax probabilities (float32 [N, C]), for the
// criteria that need nothing else (not kPatience).
torch::Tensor exit_score(const torch::Tensor& probabilities, ExitCriterion criterion);

// The largest score the criterion gives: an exit whose threshold is above it lets no sample leave, and an
// engine need not compute it (1 for max-prob and margin, 0 for entropy; +infinity for patience, whose
// score at an exit depends on every exit before it, so that none can be skipped).
float largest_score(ExitCriterion criterion);

// Patience's score at an exit from its predictions (int64 [N]) and the previous exit's predictions and
// score (undefined at the first exit): the previous score plus one where the predictions agree, else 0.
torch::Tensor patience_score(const torch::Tensor& prediction, const torch::Tensor& previous_prediction,
                             const torch::Tensor& previous_score);

// Patience's thresholds for K exits: t at every exit but the last, which takes everyone left.
std::vector<float> patience_thresholds(int64_t exits, int64_t patience);

// One batch's scores, exit after exit, by any criterion: patience carries the previous exit's predictions
// and scores. Dynamic evaluation and early-exit inference both score through it.
class ExitScorer {
 public:
  explicit ExitScorer(ExitCriterion criterion) : criterion_(criterion) {}
  struct Scored {
    torch::Tensor score;       // float32 [N]
    torch::Tensor prediction;  // int64 [N], the arg-max
  };
  // The next exit's scores from its softmax probabilities (float32 [N, C]).
  Scored next(const torch::Tensor& probabilities);
  // After some samples left: keeps the carried state of `rows` (int64) only.
  void keep_rows(const torch::Tensor& rows);
  // The state carried from one exit to the next, one tensor per quantity with a row per sample (patience:
  // the previous predictions and scores; nothing for the other criteria), so that samples can wait
  // between exits in other batches (infer/stagewise_classifier.h). set_carried takes what carried() gave,
  // rows rearranged alike.
  std::vector<torch::Tensor> carried() const;
  void set_carried(const std::vector<torch::Tensor>& state);

 private:
  ExitCriterion criterion_;
  torch::Tensor previous_prediction_, previous_score_;  // patience only
};

}  // namespace l2w::criterion
