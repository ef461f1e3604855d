#include "l2w/meta/l2w_step.h"

#include "l2w/criterion/multi_exit_loss.h"
#include "l2w/eval/exit_allocation.h"
#include "l2w/nn/parameter_swap.h"
#include "l2w/train/state_dict.h"

namespace l2w::meta {

L2WStep::L2WStep(models::MultiExitNetworkImpl& net, train::Sgd& sgd, const MetaOptions& options)
    : net_(net),
      sgd_(sgd),
      options_(options),
      wpn_(options.wpn),
      adam_(wpn_->parameters(), train::AdamOptions().lr(options.meta_lr).weight_decay(options.meta_weight_decay)),
      target_(eval::target_proportions(options.target_p_index, net.num_exits())),
      meta_lr_(options.meta_lr) {
  const auto reference = net.parameters().front();
  wpn_->to(reference.device(), reference.scalar_type());
}

MetaGradient L2WStep::meta_gradient(const torch::Tensor& train_x, const torch::Tensor& train_y,
                                    const torch::Tensor& meta_x, const torch::Tensor& meta_y) {
  const std::vector<torch::Tensor> theta = net_.parameters();
  std::vector<torch::Tensor> theta_prime(theta.size());
  {
    // 1a–1d: the pseudo network is the real one with private BatchNorm statistics.
    nn::ParameterSwap pseudo(net_, theta, /*private_buffers=*/true);
    const auto logits = net_.forward(train_x);
    const auto losses = criterion::per_exit_losses(logits, train_y, options_.label_smoothing);
    const auto weights = wpn_(losses, criterion::per_exit_confidences(logits));
    const auto inner = criterion::weighted_loss(losses, weights);
    const auto g = torch::autograd::grad({inner}, theta, {}, /*retain_graph=*/true, /*create_graph=*/true,
                                         /*allow_unused=*/true);
    for (size_t i = 0; i < theta.size(); ++i) {
      const auto gi = g[i].defined() ? g[i] : torch::zeros_like(theta[i]);
      theta_prime[i] = theta[i] - sgd_.options().lr() * sgd_.update(i, gi, theta[i]).first;
    }
  }
  torch::Tensor meta_loss;
  {
    // 1e–1f: the meta half through θ', each sample at its allocated exit.
    nn::ParameterSwap pseudo(net_, theta_prime, /*private_buffers=*/true);
    const auto logits = net_.forward(meta_x);
    const auto exits = eval::allocate_exits(criterion::per_exit_confidences(logits), target_);
    meta_loss = torch::zeros({}, logits.front().options());
    for (int64_t k = 0; k < net_.num_exits(); ++k) {
      std::vector<int64_t> selected;
      for (size_t i = 0; i < exits.size(); ++i) {
        if (exits[i] == k) selected.push_back(static_cast<int64_t>(i));
      }
      if (selected.empty()) continue;
      const auto rows = torch::tensor(selected, torch::kLong).to(meta_x.device());
      meta_loss = meta_loss + torch::nn::functional::cross_entropy(logits[k].index_select(0, rows),
                                                                    meta_y.index_select(0, rows));
    }
  }
  // 1g: the second-order gradient into the WPN only; the backbone's .grad stays as it was.
  const auto wpn_params = wpn_->parameters();
  auto grads = torch::autograd::grad({meta_loss}, wpn_params, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                     /*allow_unused=*/true);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) grads[i] = torch::zeros_like(wpn_params[i]);
  }
  return {meta_loss.item<double>(), grads};
}

void L2WStep::real_step(const torch::Tensor& x, const torch::Tensor& y, train::StepReport& report) {
  auto logits = net_.forward(x);
  const auto losses = criterion::per_exit_losses(logits, y, options_.label_smoothing);
  torch::Tensor weights;
  {
    torch::NoGradGuard no_grad;
    weights = wpn_(losses, criterion::per_exit_confidences(logits));
  }
  sgd_.zero_grad();
  criterion::weighted_loss(losses, weights).backward();
  sgd_.step();
  for (size_t k = 0; k < logits.size(); ++k) {
    auto l = logits[k].detach();
    report.logits[k] = report.logits[k].defined() ? torch::cat({report.logits[k], l}) : l;
  }
  report.losses = report.losses.defined() ? torch::cat({report.losses, losses.detach()}) : losses.detach();
  report.weights = report.weights.defined() ? torch::cat({report.weights, weights}) : weights;
}

train::StepReport L2WStep::run(const torch::Tensor& images, const torch::Tensor& labels,
                               const train::StepPosition& position) {
  meta_lr_ = options_.meta_lr * position.lr_factor;
  adam_.options().lr(meta_lr_);
  train::StepReport report;
  report.logits.resize(net_.num_exits());
  const int64_t n = images.size(0);
  if (n < 2) {  // nothing to split: a real step with the current weights
    real_step(images, labels, report);
    return report;
  }
  const int64_t half = n / 2;
  const torch::Tensor x[2] = {images.slice(0, 0, half), images.slice(0, half)};
  const torch::Tensor y[2] = {labels.slice(0, 0, half), labels.slice(0, half)};
  const bool meta = position.iteration % options_.meta_interval == 0;
  double meta_loss = 0;
  for (int phase = 0; phase < 2; ++phase) {
    if (meta) {
      const auto g = meta_gradient(x[phase], y[phase], x[1 - phase], y[1 - phase]);
      adam_.step(g.grads);
      meta_loss += g.meta_loss / 2;
    }
    real_step(x[phase], y[phase], report);
  }
  if (meta) report.meta_loss = meta_loss;
  return report;
}

void L2WStep::save(train::Checkpoint& checkpoint) const {
  checkpoint.meta_state_dict = train::state_dict(*wpn_);
  checkpoint.meta_optimizer = adam_.state_dict();
}

void L2WStep::load(const train::Checkpoint& checkpoint) {
  if (checkpoint.meta_state_dict.is_empty())
    throw train::CheckpointError("checkpoint has no weight prediction network (written by --method plain?)");
  train::load_state_dict(*wpn_, checkpoint.meta_state_dict, "the checkpoint's meta_state_dict");
  if (!checkpoint.meta_optimizer.isNone()) adam_.load_state_dict(checkpoint.meta_optimizer);
}

}  // namespace l2w::meta
