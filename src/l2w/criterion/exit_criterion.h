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
};

std::string exit_criterion_name(ExitCriterion criterion);  // "max-prob", "entropy", "margin"
std::optional<ExitCriterion> exit_criterion_from_name(const std::string& name);
const std::vector<ExitCriterion>& all_exit_criteria();

// Each sample's score (float32 [N]) from one exit's softmax probabilities (float32 [N, C]).
torch::Tensor exit_score(const torch::Tensor& probabilities, ExitCriterion criterion);

}  // namespace l2w::criterion
