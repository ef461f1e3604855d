#include "l2w/nn/parameter_swap.h"

#include <stdexcept>
#include <unordered_map>

namespace l2w::nn {
namespace {

using Members = std::vector<torch::Tensor*>;

// The parameter members of a supported layer, in registration order; throws for a layer of another
// type that holds parameters of its own.
Members parameter_members(torch::nn::Module& module) {
  if (auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(&module)) return {&conv->weight, &conv->bias};
  if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(&module)) return {&linear->weight, &linear->bias};
  if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(&module)) return {&bn->weight, &bn->bias};
  if (!module.parameters(/*recurse=*/false).empty())
    throw std::logic_error("parameter swap: layer type " + module.name() + " is not supported");
  return {};
}

// Puts the planned values in place: tensor assignments, which do not throw.
void apply(std::vector<std::pair<torch::Tensor*, torch::Tensor>>& plan) noexcept {
  for (auto& [member, value] : plan) std::swap(*member, value);
}

}  // namespace

ParameterSwap::ParameterSwap(torch::nn::Module& root, const std::vector<torch::Tensor>& replacements) {
  const auto params = root.parameters();
  if (params.size() != replacements.size())
    throw std::logic_error("parameter swap: " + std::to_string(replacements.size()) + " tensors for " +
                           std::to_string(params.size()) + " parameters");
  std::unordered_map<const void*, size_t> index;
  for (size_t i = 0; i < params.size(); ++i) index[params[i].unsafeGetTensorImpl()] = i;

  // Plan every replacement first; only then touch the module.
  std::vector<std::pair<torch::Tensor*, torch::Tensor>> plan;
  for (const auto& module : root.modules(/*include_self=*/true)) {
    for (torch::Tensor* member : parameter_members(*module)) {
      if (!member->defined()) continue;
      const auto found = index.find(member->unsafeGetTensorImpl());
      if (found == index.end()) throw std::logic_error("parameter swap: a layer holds an unregistered parameter");
      plan.emplace_back(member, replacements[found->second]);
    }
  }
  if (plan.size() != params.size()) throw std::logic_error("parameter swap: not every parameter was reached");
  apply(plan);
  saved_ = std::move(plan);  // now holds the originals
}

ParameterSwap::~ParameterSwap() { apply(saved_); }

PrivateBatchNormStatistics::PrivateBatchNormStatistics(torch::nn::Module& root) {
  std::vector<std::pair<torch::Tensor*, torch::Tensor>> plan;
  for (const auto& module : root.modules(/*include_self=*/true)) {
    auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(module.get());
    if (bn == nullptr) continue;
    for (torch::Tensor* member : {&bn->running_mean, &bn->running_var, &bn->num_batches_tracked})
      if (member->defined()) plan.emplace_back(member, member->clone());
  }
  apply(plan);
  saved_ = std::move(plan);
}

PrivateBatchNormStatistics::~PrivateBatchNormStatistics() { apply(saved_); }

}  // namespace l2w::nn
