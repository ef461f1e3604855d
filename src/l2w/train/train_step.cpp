#include "l2w/train/train_step.h"

#include "l2w/criterion/multi_exit_loss.h"

namespace l2w::train {

PlainStep::PlainStep(models::MultiExitNetworkImpl& net, Sgd& sgd, double label_smoothing)
    : net_(net), sgd_(sgd), label_smoothing_(label_smoothing) {}

StepReport PlainStep::run(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition&) {
  auto logits = net_.forward(images);
  const torch::Tensor losses = criterion::per_exit_losses(logits, labels, label_smoothing_);
  sgd_.zero_grad();
  criterion::weighted_loss(losses).backward();
  sgd_.step();
  StepReport report;
  for (auto& l : logits) report.logits.push_back(l.detach());
  report.losses = losses.detach();
  return report;
}

}  // namespace l2w::train
