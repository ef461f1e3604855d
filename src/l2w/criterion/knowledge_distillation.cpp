#include "l2w/criterion/knowledge_distillation.h"

namespace l2w::criterion {

const options::OptionList<DistillationOptions>& DistillationOptions::option_list() {
  using namespace options;
  using D = DistillationOptions;
  static const OptionList<D> list{
      value<D>("kd_temperature", {"--kd-temperature"}, L2W_FIELD(temperature),
               "IMTA's second stage: distillation temperature T", Check::kPositive)
          .in("meta"),
      value<D>("kd_gamma", {"--kd-gamma"}, L2W_FIELD(gamma), "IMTA's second stage: the teacher's share of each early exit's loss",
               Check::kUnitInterval)
          .in("meta"),
  };
  return list;
}

torch::Tensor one_for_all_distillation_loss(const std::vector<torch::Tensor>& logits, const torch::Tensor& labels,
                                            const torch::Tensor& teacher, const DistillationOptions& options) {
  namespace F = torch::nn::functional;
  const double t = options.temperature(), gamma = options.gamma();
  const auto target = torch::softmax(teacher.detach() / t, 1);
  auto loss = F::cross_entropy(logits.back(), labels);
  for (size_t k = 0; k + 1 < logits.size(); ++k) {
    // KLDivLoss() as IMTA uses it (reduction 'mean': over every element, not per sample), written out as
    // kl_div computes it, since LibTorch warns on every call that this reduction is deprecated.
    const auto kl = (torch::xlogy(target, target) - target * torch::log_softmax(logits[k] / t, 1)).mean();
    loss = loss + (1 - gamma) * F::cross_entropy(logits[k], labels) + gamma * t * t * kl;
  }
  return loss;
}

}  // namespace l2w::criterion
