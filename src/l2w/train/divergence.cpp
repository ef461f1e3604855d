#include "l2w/train/divergence.h"

#include <cmath>
#include <utility>
#include <vector>

namespace l2w::train {
namespace {

// The first non-finite value of `t`, as text ("nan", "inf", "-inf").
std::string first_non_finite(const torch::Tensor& t) {
  const double v = t.masked_select(torch::isfinite(t).logical_not()).flatten()[0].item<double>();
  return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

void check_tensors(const io::StateDict& tensors, const std::string& where, int64_t epoch) {
  for (const auto& item : tensors) {
    const auto& t = item.value();
    if (!t.is_floating_point() || torch::isfinite(t).all().item<bool>()) continue;
    throw DivergenceError("after epoch " + std::to_string(epoch) + ", " + where + " '" + item.key() + "' holds " +
                          first_non_finite(t) + ": not writing a checkpoint of a diverged run");
  }
}

}  // namespace

void check_finite(const StepReport& report, int64_t epoch, int64_t iteration) {
  const std::vector<std::pair<const char*, torch::Tensor>> watched = {{"training loss", report.losses},
                                                                      {"meta loss", report.meta_loss},
                                                                      {"WPN loss weight", report.weights},
                                                                      {"gradient norm", report.grad_norm}};
  std::vector<torch::Tensor> finite;
  for (const auto& [name, t] : watched)
    if (t.defined()) finite.push_back(torch::isfinite(t).all());
  if (torch::stack(finite).all().item<bool>()) return;
  for (const auto& [name, t] : watched) {
    if (!t.defined() || torch::isfinite(t).all().item<bool>()) continue;
    throw DivergenceError("training diverged in epoch " + std::to_string(epoch) + ", iteration " +
                          std::to_string(iteration) + ": the " + name + " is " + first_non_finite(t) +
                          "; the run stops, its last checkpoint is untouched (--resume it with a lower --lr)");
  }
}

void check_finite(const io::Checkpoint& checkpoint) {
  check_tensors(checkpoint.state_dict, "parameter", checkpoint.epoch);
  check_tensors(checkpoint.meta_state_dict, "WPN parameter", checkpoint.epoch);
}

}  // namespace l2w::train
