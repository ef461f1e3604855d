#include "l2w/train/distillation_step.h"

#include "l2w/criterion/multi_exit_loss.h"

namespace l2w::train {

DistillationStep::DistillationStep(models::ImtaNetworkImpl& net, Sgd& sgd, criterion::DistillationOptions options,
                                   distributed::DataParallel* parallel, runtime::Amp amp)
    : net_(net), sgd_(sgd), options_(options), parallel_(parallel), amp_(amp), scaler_(amp == runtime::Amp::kFp16) {}

StepReport DistillationStep::compute(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition&) {
  auto logits = forward_logits(net_, images, amp_);
  // The teacher in the logits' dtype: float32 under mixed precision (forward_logits' outputs), and
  // float64 when the network is, so that nothing is rounded on the way.
  const auto teacher = net_.teacher_logits().to(logits.back().scalar_type());
  const auto loss = criterion::one_for_all_distillation_loss(logits, labels, teacher, options_);
  StepReport report;
  report.grad_norm = descend(loss, sgd_, parallel_, scaler_);
  for (auto& l : logits) report.logits.push_back(l.detach());
  report.losses = criterion::per_exit_losses(report.logits, labels).detach();
  return report;
}

}  // namespace l2w::train
