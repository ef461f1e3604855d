#include "l2w/meta/l2w_step.h"

#include <optional>

#include "l2w/criterion/multi_exit_loss.h"
#include "l2w/criterion/exit_allocation.h"
#include "l2w/nn/parameter_swap.h"
#include "l2w/io/state_dict.h"

namespace l2w::meta {

const options::OptionList<MetaOptions>& MetaOptions::option_list() {
  using namespace options;
  using M = MetaOptions;
  static const OptionList<M> list{
      value<M>("label_smoothing", {"--label-smoothing", "--labelsmooth"}, L2W_FIELD(label_smoothing),
               "label smoothing of the training losses", Check::kUnitInterval)
          .in("optimizer"),
      value<M>("meta_net_hidden_size", {"--meta_net_hidden_size"}, L2W_FIELD(wpn().hidden_size), "the WPN's hidden units",
               Check::kPositive)
          .in("meta"),
      value<M>("meta_net_num_layers", {"--meta_net_num_layers"}, L2W_FIELD(wpn().num_layers), "the WPN's hidden layers",
               Check::kPositive)
          .in("meta"),
      value<M>("meta_interval", {"--meta_interval"}, L2W_FIELD(meta_interval), "a meta step every N iterations",
               Check::kPositive)
          .in("meta"),
      value<M>("meta_lr", {"--meta_lr"}, L2W_FIELD(meta_lr), "the WPN's Adam learning rate", Check::kNonNegative).in("meta"),
      value<M>("meta_weight_decay", {"--meta_weight_decay"}, L2W_FIELD(meta_weight_decay), "the WPN's Adam weight decay",
               Check::kNonNegative)
          .in("meta"),
      value<M>("epsilon", {"--epsilon"}, L2W_FIELD(wpn().epsilon), "the WPN's weights lie in 1 ± epsilon",
               Check::kNonNegative)
          .in("meta"),
      converted<M>(
          "target_p_index", {"--target_p_index"}, "N (1 to 39)",
          [](const M& m) { return std::to_string(m.target_p_index()); },
          [](M& m, const std::string& t) {
            const int64_t p = parse_integer("target_p_index", t, Check::kPositive);
            if (p > 39) throw OptionError("target_p_index", "'" + t + "' must be 1 to 39");
            m.target_p_index(p);
          },
          "the meta loss's target exit distribution, q_k ∝ (N/20)^k")
          .in("meta"),
      choice<M>("meta_net_input_type", {"--meta_net_input_type"}, L2W_FIELD(wpn().input),
                named({WpnInput::kLoss, WpnInput::kConfidence, WpnInput::kBoth}, wpn_input_name), "the WPN's input")
          .in("meta"),
      choice<M>("constraint_dimension", {"--constraint_dimension"}, L2W_FIELD(wpn().constraint),
                named({Constraint::kRow, Constraint::kCol, Constraint::kMat}, constraint_name),
                "what the WPN's outputs are centred over")
          .in("meta"),
      choice<M>("meta_grad", {"--meta_grad"}, L2W_FIELD(meta_grad),
                named({MetaGrad::kExact, MetaGrad::kFiniteDifference}, meta_grad_name),
                "exact (second-order backward) | fd (first order: a finite-difference directional derivative)")
          .in("meta"),
      value<M>("fd_epsilon", {"--fd_epsilon"}, L2W_FIELD(fd_epsilon),
               "fd: relative step, delta = e*(1+|theta|)/|h| (0: by precision)", Check::kNonNegative)
          .in("meta"),
  };
  return list;
}

std::string meta_grad_name(MetaGrad mode) { return mode == MetaGrad::kExact ? "exact" : "fd"; }

L2WStep::L2WStep(models::MultiExitNetworkImpl& net, train::Sgd& sgd, const MetaOptions& options,
                 distributed::DataParallel* parallel)
    : net_(net),
      sgd_(sgd),
      parallel_(parallel),
      options_(options),
      wpn_(options.wpn()),
      adam_(wpn_->parameters(), train::AdamOptions().lr(options.meta_lr()).weight_decay(options.meta_weight_decay())),
      target_(criterion::target_proportions(options.target_p_index(), net.num_exits())),
      meta_lr_(options.meta_lr()),
      scaler_(options.amp() == runtime::Amp::kFp16) {
  const auto reference = net.parameters().front();
  wpn_->to(reference.device(), reference.scalar_type());
}

namespace {

// Σ‖t‖² as a float64 scalar on the tensors' device: no wait for the device.
torch::Tensor squared_norm(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> sums;
  for (const auto& t : tensors) sums.push_back(t.pow(2).sum());
  return torch::stack(sums).to(torch::kFloat64).sum();
}

std::vector<torch::Tensor> zeros_where_undefined(std::vector<torch::Tensor> grads,
                                                 const std::vector<torch::Tensor>& like) {
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) grads[i] = torch::zeros_like(like[i]);
  }
  return grads;
}

}  // namespace

L2WStep::HalfForward L2WStep::forward_half(const torch::Tensor& x, const torch::Tensor& y, runtime::Amp amp) {
  HalfForward f;
  f.logits = train::forward_logits(net_, x, amp);
  f.losses = criterion::per_exit_losses(f.logits, y, options_.label_smoothing());
  f.confidences = criterion::per_exit_confidences(f.logits);
  return f;
}

torch::Tensor L2WStep::meta_loss_at(const std::vector<torch::Tensor>& theta_prime, const torch::Tensor& meta_x,
                                    const torch::Tensor& meta_y) {
  nn::PrivateBatchNormStatistics private_statistics(net_);
  nn::ParameterSwap pseudo(net_, theta_prime);
  const auto logits = net_.forward(meta_x);
  const auto exits = criterion::allocate_exits_on_device(criterion::per_exit_confidences(logits), target_);
  const auto rows = criterion::rows_by_exit(exits, target_);
  auto meta_loss = torch::zeros({}, logits.front().options());
  for (int64_t k = 0; k < net_.num_exits(); ++k) {
    if (rows[k].numel() == 0) continue;
    meta_loss = meta_loss + torch::nn::functional::cross_entropy(logits[k].index_select(0, rows[k]),
                                                                  meta_y.index_select(0, rows[k]));
  }
  return meta_loss;
}

MetaGradient L2WStep::meta_gradient(const torch::Tensor& train_x, const torch::Tensor& train_y,
                                    const torch::Tensor& meta_x, const torch::Tensor& meta_y,
                                    std::optional<HalfForward>* real_forward) {
  // The exact gradient differentiates through this forward twice, and a forward in another precision
  // is no use to the meta step: only a first-order step in the parameters' precision can share it.
  const bool share = real_forward != nullptr && options_.meta_grad() == MetaGrad::kFiniteDifference &&
                     options_.amp() == runtime::Amp::kOff;
  HalfForward train;
  if (share) {
    train = forward_half(train_x, train_y);
  } else {
    // 1a: the pseudo network is the real one with private BatchNorm statistics.
    nn::PrivateBatchNormStatistics private_statistics(net_);
    train = forward_half(train_x, train_y);
  }
  auto gradient = options_.meta_grad() == MetaGrad::kExact
                      ? exact_gradient(train, meta_x, meta_y)
                      : finite_difference_gradient(train, train_x, train_y, meta_x, meta_y);
  if (share) *real_forward = std::move(train);
  return gradient;
}

MetaGradient L2WStep::exact_gradient(const HalfForward& train, const torch::Tensor& meta_x,
                                     const torch::Tensor& meta_y) {
  // 1b–1d: θ' = θ − lr·d(g(φ)), differentiable in φ.
  const std::vector<torch::Tensor> theta = net_.parameters();
  const auto weights = wpn_(train.losses, train.confidences);
  const auto inner = criterion::weighted_loss(train.losses, weights);
  const auto g = zeros_where_undefined(
      torch::autograd::grad({inner}, theta, {}, /*retain_graph=*/true, /*create_graph=*/true, /*allow_unused=*/true),
      theta);
  std::vector<torch::Tensor> theta_prime(theta.size());
  for (size_t i = 0; i < theta.size(); ++i)
    theta_prime[i] = theta[i] - sgd_.lr() * sgd_.update(i, g[i], theta[i]).first;
  const auto meta_loss = meta_loss_at(theta_prime, meta_x, meta_y);
  // 1g: the second-order gradient into the WPN only; the backbone's .grad stays as it was.
  const auto wpn_params = wpn_->parameters();
  const auto grads = torch::autograd::grad({meta_loss}, wpn_params, {}, /*retain_graph=*/false,
                                           /*create_graph=*/false, /*allow_unused=*/true);
  return {meta_loss.detach(), zeros_where_undefined(grads, wpn_params)};
}

MetaGradient L2WStep::finite_difference_gradient(const HalfForward& train, const torch::Tensor& train_x,
                                                 const torch::Tensor& train_y, const torch::Tensor& meta_x,
                                                 const torch::Tensor& meta_y) {
  const std::vector<torch::Tensor> theta = net_.parameters();
  const auto weights = wpn_(train.losses, train.confidences);
  // 1b–1d at first order: the inner gradient with the weights as constants, θ' as fresh leaves.
  const auto g = zeros_where_undefined(
      torch::autograd::grad({criterion::weighted_loss(train.losses, weights.detach())}, theta, {},
                            /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true),
      theta);
  std::vector<torch::Tensor> theta_prime(theta.size());
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < theta.size(); ++i)
      theta_prime[i] = (theta[i] - sgd_.lr() * sgd_.update(i, g[i], theta[i]).first).requires_grad_(true);
  }
  const auto meta_loss = meta_loss_at(theta_prime, meta_x, meta_y);
  const auto h = zeros_where_undefined(
      torch::autograd::grad({meta_loss}, theta_prime, {}, /*retain_graph=*/false, /*create_graph=*/false,
                            /*allow_unused=*/true),
      theta);

  // ∂θ'/∂g is diagonal with gain c_i per parameter, so the direction is c ⊙ h.
  std::vector<torch::Tensor> direction(theta.size());
  for (size_t i = 0; i < theta.size(); ++i) direction[i] = h[i] * sgd_.direction_gain(i);
  const auto wpn_params = wpn_->parameters();
  // δ stays a device scalar, so that the step never waits for the device. A zero direction (h = 0)
  // gives δ = 0 and a zero directional derivative.
  const auto h_norm = squared_norm(direction).sqrt();
  double epsilon = options_.fd_epsilon();
  if (epsilon <= 0) epsilon = theta.front().scalar_type() == torch::kFloat64 ? 1e-9 : 1e-6;
  const auto delta = torch::where(h_norm > 0, epsilon * (1.0 + squared_norm(theta).sqrt()) / h_norm,
                                  torch::zeros_like(h_norm));
  torch::Tensor directional;  // ⟨c ⊙ h, ∇θ L_ik⟩ for every sample and exit
  {
    c10::InferenceMode no_autograd;  // no graph and no version counters: cheaper than NoGradGuard
    const auto step = delta.to(theta.front().scalar_type());
    const auto losses_at = [&](const torch::Tensor& along) {
      std::vector<torch::Tensor> moved(theta.size());
      for (size_t i = 0; i < theta.size(); ++i) moved[i] = theta[i] + along * direction[i];
      nn::PrivateBatchNormStatistics private_statistics(net_);
      nn::ParameterSwap shifted(net_, moved);
      return criterion::per_exit_losses(net_.forward(train_x), train_y, options_.label_smoothing());
    };
    const auto difference = (losses_at(step) - losses_at(-step)).to(torch::kFloat64);
    directional = torch::where(delta > 0, difference / (2 * delta), torch::zeros_like(difference))
                      .to(train.losses.scalar_type());
  }
  directional = directional.clone();  // an ordinary tensor again, so that autograd may save it
  // meta_loss(φ) ≈ const − lr·Σ_ik W_ik(φ)·directional_ik/n: its gradient is the WPN's backward alone.
  const auto surrogate = -sgd_.lr() * criterion::weighted_loss(directional, weights);
  const auto grads = torch::autograd::grad({surrogate}, wpn_params, {}, /*retain_graph=*/false,
                                           /*create_graph=*/false, /*allow_unused=*/true);
  return {meta_loss.detach(), zeros_where_undefined(grads, wpn_params)};
}

void L2WStep::real_step(const HalfForward& forward, train::StepReport& report) {
  torch::Tensor weights;
  {
    torch::NoGradGuard no_grad;
    weights = wpn_(forward.losses, forward.confidences);
  }
  const auto norm = train::descend(criterion::weighted_loss(forward.losses, weights), sgd_, parallel_, scaler_);
  report.grad_norm = report.grad_norm.defined() ? torch::maximum(report.grad_norm, norm) : norm;
  for (size_t k = 0; k < forward.logits.size(); ++k) {
    auto l = forward.logits[k].detach();
    report.logits[k] = report.logits[k].defined() ? torch::cat({report.logits[k], l}) : l;
  }
  const auto losses = forward.losses.detach();
  report.losses = report.losses.defined() ? torch::cat({report.losses, losses}) : losses;
  report.weights = report.weights.defined() ? torch::cat({report.weights, weights}) : weights;
}

void L2WStep::prepare(const train::StepPosition& position) {
  meta_lr_ = options_.meta_lr() * position.lr_factor;
  adam_.set_lr(meta_lr_);
}

int L2WStep::kind(const train::StepPosition& position) const {
  return position.iteration % options_.meta_interval() == 0 ? 1 : 0;
}

train::StepReport L2WStep::compute(const torch::Tensor& images, const torch::Tensor& labels,
                                   const train::StepPosition& position) {
  train::StepReport report;
  report.logits.resize(net_.num_exits());
  const int64_t n = images.size(0);
  if (n < 2) {  // nothing to split: a real step with the current weights
    real_step(forward_half(images, labels, options_.amp()), report);
    return report;
  }
  // The first half takes ceil(n/2) images, as the reference's `chunk(2)` cuts an odd batch.
  const int64_t half = (n + 1) / 2;
  const torch::Tensor x[2] = {images.slice(0, 0, half), images.slice(0, half)};
  const torch::Tensor y[2] = {labels.slice(0, 0, half), labels.slice(0, half)};
  const bool meta = kind(position) == 1;
  torch::Tensor meta_loss;
  for (int phase = 0; phase < 2; ++phase) {
    std::optional<HalfForward> forward;
    if (meta) {
      auto g = meta_gradient(x[phase], y[phase], x[1 - phase], y[1 - phase], &forward);
      if (parallel_ != nullptr) parallel_->average(g.grads);
      adam_.step(g.grads);
      meta_loss = meta_loss.defined() ? meta_loss + g.meta_loss / 2 : g.meta_loss / 2;
    }
    if (!forward) forward = forward_half(x[phase], y[phase], options_.amp());
    real_step(*forward, report);
  }
  report.meta_loss = meta_loss;
  return report;
}

void L2WStep::save(io::Checkpoint& checkpoint) const {
  checkpoint.meta_state_dict = io::state_dict(*wpn_);
  checkpoint.meta_optimizer = adam_.state_dict();
}

void L2WStep::load(const io::Checkpoint& checkpoint) {
  if (checkpoint.meta_state_dict.is_empty())
    throw io::CheckpointError("checkpoint has no weight prediction network (written by the plain method?)");
  io::load_state_dict(*wpn_, checkpoint.meta_state_dict, "the checkpoint's meta_state_dict");
  if (!checkpoint.meta_optimizer.isNone()) adam_.load_state_dict(checkpoint.meta_optimizer);
}

}  // namespace l2w::meta
