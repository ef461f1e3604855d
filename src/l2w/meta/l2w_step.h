// The L2W training iteration (docs/algorithm.md, "One training iteration"): the batch is split in halves (the first
// takes ceil(n/2) images, as the reference's chunk(2)); each half in turn trains while
// the other is meta data. A meta step updates the weight prediction network (WPN) by differentiating,
// through a pseudo SGD step of the backbone, the loss of the meta half at its target exits; then the
// real step trains the backbone with the updated WPN's weights.
#pragma once

#include <optional>
#include <vector>

#include "l2w/meta/weight_prediction_network.h"
#include "l2w/models/multi_exit_network.h"
#include "l2w/train/adam.h"
#include "l2w/train/train_step.h"

namespace l2w::meta {

// How step 1g differentiates the meta loss with respect to the WPN.
enum class MetaGrad {
  // Second order: backward through the graph of the pseudo step.
  kExact,
  // First order: with h = ∇θ' meta_loss and d affine in the inner gradient, ∂meta_loss/∂W_ik is
  // −lr·(∂d/∂g)·⟨h, ∇θ L_ik⟩/n, the directional derivative of the per-sample losses along h, taken by a
  // central difference (L(θ + δh) − L(θ − δh))/2δ of two no-grad forward passes; then a backward through
  // the WPN alone. The training half's forward at θ is shared with the real step.
  kFiniteDifference,
};
std::string meta_grad_name(MetaGrad mode);  // "exact", "fd"

struct MetaOptions {
  explicit MetaOptions(int64_t num_exits) : wpn_(num_exits) {}
  // The weight prediction network.
  TORCH_ARG(WpnOptions, wpn);
  // A meta step every this many iterations; the others are real steps with the current WPN.
  TORCH_ARG(int64_t, meta_interval) = 1;
  // The WPN's Adam learning rate (scaled by the backbone's schedule) and weight decay.
  TORCH_ARG(double, meta_lr) = 1e-4;
  TORCH_ARG(double, meta_weight_decay) = 1e-4;
  // The target exit distribution of the meta loss: q_k ∝ p^k with p = target_p_index / 20.
  TORCH_ARG(int64_t, target_p_index) = 15;
  // Label smoothing of the per-sample training losses.
  TORCH_ARG(double, label_smoothing) = 0.0;
  // How the meta loss is differentiated with respect to the WPN.
  TORCH_ARG(MetaGrad, meta_grad) = MetaGrad::kExact;
  // kFiniteDifference: the step is δ = fd_epsilon·(1 + ‖θ‖)/‖c ⊙ h‖, a move of the parameters by a
  // fixed fraction of their size whatever the scale of h. The error has two parts: ReLU and max-pool
  // kinks crossed inside ±δh (growing with δ; the losses are only piecewise smooth) and rounding in
  // L(θ + δh) − L(θ − δh) (growing as 1/δ). 0 picks 1e-6 in float32 and 1e-9 in float64, where on a
  // tiny MSDNet the two balance (cosine to the exact gradient 0.99995 and 1 − 2e-7).
  TORCH_ARG(double, fd_epsilon) = 0.0;
  // Mixed precision of the real step (its forward under autocast, fp16 loss-scaled); the meta step
  // always runs in the parameters' precision.
  TORCH_ARG(runtime::Amp, amp) = runtime::Amp::kOff;

 public:
  // The WPN's and the meta step's options, and label smoothing (amp is the trainer's).
  static const options::OptionList<MetaOptions>& option_list();
};

struct MetaGradient {
  torch::Tensor meta_loss;            // 0-dim, on the device
  std::vector<torch::Tensor> grads;  // ∂meta_loss/∂φ for each WPN parameter
};

class L2WStep : public train::TrainStep {
 public:
  // With `parallel` (the backbone's data parallelism), the real step's gradient and the WPN's meta
  // gradient are averaged over ranks; the pseudo step uses this rank's own gradient, as the reference.
  L2WStep(models::MultiExitNetworkImpl& net, train::Sgd& sgd, const MetaOptions& options,
          distributed::DataParallel* parallel = nullptr);

  // The WPN's learning rate follows the backbone's schedule.
  void prepare(const train::StepPosition& position) override;
  train::StepReport compute(const torch::Tensor& images, const torch::Tensor& labels,
                            const train::StepPosition& position) override;
  // 1: a meta iteration, 0: a real step only.
  int kind(const train::StepPosition& position) const override;
  bool has_meta() const override { return true; }
  double meta_lr() const override { return meta_lr_; }
  void save(io::Checkpoint& checkpoint) const override;
  void load(const io::Checkpoint& checkpoint) override;
  std::vector<torch::Tensor> shared_state() const override { return wpn_->parameters(); }

  // The training half's forward at θ: logits, per-sample per-exit losses and confidences.
  struct HalfForward {
    std::vector<torch::Tensor> logits;
    torch::Tensor losses, confidences;
  };

  // Steps 1a–1g up to the WPN gradient (by options.meta_grad); the one entry point of training and tests.
  // The backbone's parameters and gradients are untouched and the WPN is not stepped. Without
  // `real_forward`, the BatchNorm statistics are untouched too. With it, under kFiniteDifference in the
  // parameters' precision, the training half's forward is the real step's own (train-mode BatchNorm,
  // updating the statistics once) and is handed back through it for the real step to reuse; otherwise
  // it stays empty.
  MetaGradient meta_gradient(const torch::Tensor& train_x, const torch::Tensor& train_y, const torch::Tensor& meta_x,
                             const torch::Tensor& meta_y, std::optional<HalfForward>* real_forward = nullptr);
  WeightPredictionNetwork& wpn() { return wpn_; }

 private:
  // Under autocast for `amp` other than kOff.
  HalfForward forward_half(const torch::Tensor& x, const torch::Tensor& y, runtime::Amp amp = runtime::Amp::kOff);
  // 1e–1f: the meta half through θ', each sample at its allocated exit.
  torch::Tensor meta_loss_at(const std::vector<torch::Tensor>& theta_prime, const torch::Tensor& meta_x,
                             const torch::Tensor& meta_y);
  MetaGradient exact_gradient(const HalfForward& train, const torch::Tensor& meta_x, const torch::Tensor& meta_y);
  // Keeps the graph of train.losses for the real step that shares it.
  MetaGradient finite_difference_gradient(const HalfForward& train, const torch::Tensor& train_x,
                                          const torch::Tensor& train_y, const torch::Tensor& meta_x,
                                          const torch::Tensor& meta_y);
  // The real step on one half from its forward: weights from the WPN without gradient, one SGD step.
  void real_step(const HalfForward& forward, train::StepReport& report);

  models::MultiExitNetworkImpl& net_;
  train::Sgd& sgd_;
  distributed::DataParallel* parallel_;
  MetaOptions options_;
  WeightPredictionNetwork wpn_;
  train::Adam adam_;
  std::vector<float> target_;
  double meta_lr_;
  runtime::LossScaler scaler_;
};

}  // namespace l2w::meta
