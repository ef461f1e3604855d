#include "l2w/train/learner.h"

#include <sstream>

#include "l2w/io/state_dict.h"
#include "l2w/train/cuda_graph_step.h"

namespace l2w::train {

namespace {

// std::invalid_argument for a batch the step cannot train on, naming what is wrong.
void check_batch(const models::MultiExitNetworkImpl& net, const torch::Tensor& images, const torch::Tensor& labels) {
  models::check_images(net, images);
  if (labels.dim() != 1 || labels.size(0) != images.size(0))
    throw std::invalid_argument("labels: expected [" + std::to_string(images.size(0)) + "], one per image, got " +
                                c10::str(labels.sizes()));
  if (labels.scalar_type() != torch::kLong)
    throw std::invalid_argument(std::string("labels: dtype ") + c10::toString(labels.scalar_type()) +
                                ", expected Long (int64) class indices");
}

// The first exit (0-based) whose column of `t` [n, K] holds a NaN or an infinity, or -1.
int64_t first_non_finite_exit(const torch::Tensor& t) {
  if (!t.defined()) return -1;
  const auto finite = torch::isfinite(t.detach()).reshape({-1, t.size(-1)}).all(0).cpu();
  for (int64_t k = 0; k < finite.size(0); ++k)
    if (!finite[k].item<bool>()) return k;
  return -1;
}

bool finite(const torch::Tensor& t) { return !t.defined() || torch::isfinite(t.detach()).all().item<bool>(); }

}  // namespace

// Everything an iteration changes, copied before it: the network's parameters and buffers, SGD's
// momentum, and the method's own state (the WPN and its Adam).
struct Learner::Snapshot {
  std::vector<torch::Tensor> network;
  std::vector<torch::Tensor> momentum;  // undefined where SGD has none yet
  io::Checkpoint method;
};

Learner::Learner(models::MultiExitNetwork net, LearnerOptions options, const StepFactory& make_step,
                 distributed::DataParallel* parallel)
    : net_(std::move(net)), options_(std::move(options)), sgd_(net_->parameters(), options_.sgd()) {
  if (options_.schedule().epochs < 1 || options_.schedule().iterations_per_epoch < 1)
    throw std::invalid_argument("schedule: epochs and iterations_per_epoch must be positive");
  options_.schedule().base_lr = options_.sgd().lr();
  // Multistep without milestones: the CIFAR convention, 50% and 75% of the epochs (the Trainer gives
  // ImageNet's its own).
  if (options_.schedule().milestones.empty())
    options_.schedule().milestones = default_milestones("", options_.schedule().epochs);
  step_ = make_step(*net_, sgd_, parallel);
  if (options_.cuda_graphs()) step_ = std::make_unique<CudaGraphStep>(std::move(step_));
  lr_ = options_.sgd().lr();
}

Learner::~Learner() = default;

void Learner::check_position(int64_t epoch, int64_t iteration) const {
  const auto& s = options_.schedule();
  if (epoch < 0 || iteration < 0 || iteration >= s.iterations_per_epoch)
    throw std::invalid_argument("iteration: epoch " + std::to_string(epoch) + ", iteration " + std::to_string(iteration) +
                                " is not a place on the schedule (iterations 0 to " +
                                std::to_string(s.iterations_per_epoch - 1) + " of each epoch)");
  if (epoch >= s.epochs)
    throw std::invalid_argument("iteration: epoch " + std::to_string(epoch) + " (0-based) is past the schedule's end (" +
                                std::to_string(s.epochs) + " epochs of " + std::to_string(s.iterations_per_epoch) +
                                " iterations): make a Learner with more epochs to train longer");
}

Learner::Snapshot Learner::snapshot() const {
  torch::NoGradGuard no_grad;
  Snapshot s;
  for (const auto& item : io::state_dict(*net_)) s.network.push_back(item.value().clone());
  for (const auto& b : sgd_.momentum_buffers()) s.momentum.push_back(b.defined() ? b.clone() : torch::Tensor());
  step_->save(s.method);
  for (auto& item : s.method.meta_state_dict) item.value() = item.value().clone();
  s.method.meta_optimizer = s.method.meta_optimizer.deepcopy();
  return s;
}

void Learner::restore(const Snapshot& s) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& item : io::state_dict(*net_)) item.value().copy_(s.network[i++]);
  auto& momentum = sgd_.momentum_buffers();
  for (size_t j = 0; j < momentum.size(); ++j) {
    if (!s.momentum[j].defined()) {
      momentum[j] = torch::Tensor();
    } else {
      momentum[j].copy_(s.momentum[j]);
    }
  }
  if (!s.method.meta_state_dict.is_empty()) step_->load(s.method);
  sgd_.zero_grad();
}

StepReport Learner::learn(const torch::Tensor& images, const torch::Tensor& labels, int64_t epoch, int64_t iteration) {
  if (!net_->is_training()) net_->train();
  const auto& schedule = options_.schedule();
  const double lr = schedule.at(epoch, iteration);
  if (!options_.guarded()) {
    sgd_.set_lr(lr);
    lr_ = lr;
    return step_->run(images, labels, {iteration, lr / schedule.base_lr});
  }
  check_position(epoch, iteration);
  check_batch(*net_, images, labels);
  const auto before = snapshot();
  StepReport report;
  try {
    sgd_.set_lr(lr);
    report = step_->run(images, labels, {iteration, lr / schedule.base_lr});
  } catch (...) {
    restore(before);
    throw;
  }
  int64_t exit = first_non_finite_exit(report.losses);
  if (exit < 0) exit = first_non_finite_exit(report.weights);
  if (exit >= 0 || !finite(report.meta_loss) || !finite(report.grad_norm)) {
    restore(before);
    std::ostringstream msg;
    msg << "epoch " << epoch << ", iteration " << iteration << ": ";
    if (exit >= 0) {
      msg << "exit " << exit + 1 << "'s " << (first_non_finite_exit(report.losses) >= 0 ? "loss" : "weight");
    } else {
      msg << (finite(report.meta_loss) ? "the gradient" : "the meta loss");
    }
    msg << " is not finite; the step was undone (network, optimiser and meta-learner as before it): look for NaN "
           "or infinite values in the batch, or lower the learning rate";
    throw NonFiniteLoss(msg.str());
  }
  lr_ = lr;
  return report;
}

}  // namespace l2w::train
