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

PlainStep::PlainStep(models::MultiExitNetworkImpl& net, Sgd& sgd, double label_smoothing,
                     distributed::DataParallel* parallel)
    : net_(net), sgd_(sgd), label_smoothing_(label_smoothing), parallel_(parallel) {}

StepReport PlainStep::run(const torch::Tensor& images, const torch::Tensor& labels, const StepPosition&) {
  auto logits = net_.forward(images);
  const torch::Tensor losses = criterion::per_exit_losses(logits, labels, label_smoothing_);
  sgd_.zero_grad();
  backward(criterion::weighted_loss(losses), parallel_);
  sgd_.step();
  StepReport report;
  for (auto& l : logits) report.logits.push_back(l.detach());
  report.losses = losses.detach();
  return report;
}

}  // namespace l2w::train
