#include "l2w/train/learner.h"

namespace l2w::train {

Learner::Learner(models::MultiExitNetwork net, LearnerOptions options, const StepFactory& make_step)
    : net_(std::move(net)), options_(std::move(options)), sgd_(net_->parameters(), options_.sgd()) {
  if (options_.schedule().epochs < 1 || options_.schedule().iterations_per_epoch < 1)
    throw std::invalid_argument("schedule: epochs and iterations_per_epoch must be positive");
  options_.schedule().base_lr = options_.sgd().lr();
  step_ = make_step(*net_, sgd_, nullptr);
  lr_ = options_.sgd().lr();
}

StepReport Learner::learn(const torch::Tensor& images, const torch::Tensor& labels, int64_t epoch, int64_t iteration) {
  if (!net_->is_training()) net_->train();
  const auto& schedule = options_.schedule();
  lr_ = schedule.at(epoch, iteration);
  sgd_.set_lr(lr_);
  return step_->run(images, labels, {iteration, lr_ / schedule.base_lr});
}

}  // namespace l2w::train
