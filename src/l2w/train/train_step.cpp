#include "l2w/train/train_step.h"

#include "l2w/criterion/multi_exit_loss.h"

namespace l2w::train {

void backward(const torch::Tensor& loss, distributed::DataParallel* parallel) {
  if (parallel != nullptr) {
    parallel->backward(loss);
  } else {
    loss.backward();
  }
}

torch::Tensor descend(const torch::Tensor& loss, Sgd& sgd, distributed::DataParallel* parallel,
                      runtime::LossScaler& scaler) {
  sgd.zero_grad();
  backward(scaler.scale(loss), parallel);
  const torch::Tensor overflowed = scaler.unscale_and_update(sgd.params());
  std::vector<torch::Tensor> grads;
  for (const auto& p : sgd.params())
    if (p.grad().defined()) grads.push_back(p.grad());
  torch::Tensor norm = torch::stack(torch::_foreach_norm(grads)).norm();
  sgd.step(overflowed);
  // A skipped step reports no gradient.
  return overflowed.defined() ? torch::where(overflowed > 0, torch::zeros_like(norm), norm) : norm;
}

std::vector<torch::Tensor> forward_logits(models::MultiExitNetworkImpl& net, const torch::Tensor& images,
                                          runtime::Amp amp) {
  std::vector<torch::Tensor> logits;
  {
    runtime::AutocastGuard autocast(amp, images.device());
    logits = net.forward(images);
  }
  if (amp != runtime::Amp::kOff)
    for (auto& l : logits) l = l.to(torch::kFloat32);
  return logits;
}

PlainStep::PlainStep(models::MultiExitNetworkImpl& net, Sgd& sgd, double label_smoothing,
                     distributed::DataParallel* parallel, runtime::Amp amp)
    : net_(net),
      sgd_(sgd),
      label_smoothing_(label_smoothing),
      parallel_(parallel),
      amp_(amp),
      scaler_(amp == runtime::Amp::kFp16) {}

StepReport PlainStep::compute(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition&) {
  auto logits = forward_logits(net_, images, amp_);
  const torch::Tensor losses = criterion::per_exit_losses(logits, labels, label_smoothing_);
  StepReport report;
  report.grad_norm = descend(criterion::weighted_loss(losses), sgd_, parallel_, scaler_);
  for (auto& l : logits) report.logits.push_back(l.detach());
  report.losses = losses.detach();
  return report;
}

}  // namespace l2w::train
