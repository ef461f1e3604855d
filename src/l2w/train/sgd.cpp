#include "l2w/train/sgd.h"

#include <cmath>
#include <numeric>
#include <stdexcept>

#include "l2w/train/optimizer_state.h"

namespace l2w::train {

const options::OptionList<SgdOptions>& SgdOptions::option_list() {
  using namespace options;
  // Their values are checked where SGD takes them (check_sgd_options), for every front end alike.
  static const OptionList<SgdOptions> list{
      value<SgdOptions>("lr", {"--lr", "--learning-rate"}, L2W_FIELD(lr), "initial learning rate (0 or more)")
          .in("optimizer"),
      value<SgdOptions>("momentum", {"--momentum"}, L2W_FIELD(momentum), "SGD momentum (0 to 1, 1 excluded)")
          .in("optimizer"),
      value<SgdOptions>("weight_decay", {"--weight-decay", "--wd"}, L2W_FIELD(weight_decay), "SGD weight decay (0 or more)")
          .in("optimizer"),
      switch_option<SgdOptions>("nesterov", {"--nesterov"}, L2W_FIELD(nesterov), "Nesterov momentum (needs momentum)")
          .in("optimizer"),
  };
  return list;
}

void check_sgd_options(const SgdOptions& o) {
  using options::OptionError;
  const auto number = [](double v) { return c10::str(v); };
  if (!std::isfinite(o.lr()) || o.lr() < 0) throw OptionError("lr", number(o.lr()) + ", expected a number >= 0");
  if (!(o.momentum() >= 0 && o.momentum() < 1))
    throw OptionError("momentum", number(o.momentum()) + ", expected a number in [0, 1)");
  if (!(o.dampening() >= 0 && o.dampening() <= 1))
    throw OptionError("dampening", number(o.dampening()) + ", expected a number in [0, 1]");
  if (!std::isfinite(o.weight_decay()) || o.weight_decay() < 0)
    throw OptionError("weight_decay", number(o.weight_decay()) + ", expected a number >= 0");
  if (o.nesterov() && o.momentum() == 0) throw OptionError("nesterov", "needs a non-zero momentum");
}

Sgd::Sgd(std::vector<torch::Tensor> params, SgdOptions options)
    : params_(std::move(params)), buffers_(params_.size()), options_(options) {
  check_sgd_options(options_);
}

std::pair<torch::Tensor, torch::Tensor> Sgd::update(size_t i, const torch::Tensor& g,
                                                    const torch::Tensor& param) const {
  torch::Tensor d = options_.weight_decay() != 0 ? g + options_.weight_decay() * param : g;
  if (options_.momentum() == 0) return {d, torch::Tensor()};
  const torch::Tensor& buf = buffers_[i];
  torch::Tensor next = buf.defined() ? options_.momentum() * buf + (1 - options_.dampening()) * d : d;
  torch::Tensor direction = options_.nesterov() ? d + options_.momentum() * next : next;
  return {direction, next};
}

double Sgd::direction_gain(size_t i) const {
  if (options_.momentum() == 0) return 1.0;
  const double into_buffer = buffers_[i].defined() ? 1.0 - options_.dampening() : 1.0;
  return options_.nesterov() ? 1.0 + options_.momentum() * into_buffer : into_buffer;
}

void Sgd::set_lr(double lr) {
  if (!std::isfinite(lr) || lr < 0) throw options::OptionError("lr", c10::str(lr) + ", expected a number >= 0");
  options_.lr(lr);
  if (lr_.defined()) lr_.fill_(lr);
}

const torch::Tensor& Sgd::lr() const {
  const auto& like = params_.front();
  if (!lr_.defined() || lr_.device() != like.device() || lr_.scalar_type() != like.scalar_type())
    lr_ = torch::full({}, options_.lr(), like.options().requires_grad(false));
  return lr_;
}

void Sgd::step(const torch::Tensor& skip) {
  torch::NoGradGuard no_grad;
  const auto& lr = this->lr();
  const torch::Tensor skipped = skip.defined() ? skip > 0 : torch::Tensor();
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    auto [direction, next] = update(i, p.grad(), p);
    if (next.defined()) {
      if (buffers_[i].defined()) {
        buffers_[i].copy_(skipped.defined() ? torch::where(skipped, buffers_[i], next) : next);
      } else {
        // A skipped first step leaves a zero buffer, which the next step treats as PyTorch treats none
        // (with no dampening, momentum·0 + d = d).
        buffers_[i] = skipped.defined() ? torch::where(skipped, torch::zeros_like(next), next)
                                        : next.is_same(p.grad()) ? next.clone() : next;
      }
    }
    const auto change = lr * direction;
    p.sub_(skipped.defined() ? torch::where(skipped, torch::zeros_like(change), change) : change);
  }
}

void Sgd::zero_grad() {
  for (auto& p : params_) {
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  }
}

c10::IValue Sgd::state_dict() const {
  c10::impl::GenericDict state(c10::IntType::get(), c10::AnyType::get());
  for (size_t i = 0; i < buffers_.size(); ++i) {
    if (!buffers_[i].defined()) continue;
    c10::impl::GenericDict entry(c10::StringType::get(), c10::AnyType::get());
    entry.insert("momentum_buffer", buffers_[i]);
    state.insert(static_cast<int64_t>(i), entry);
  }
  c10::impl::GenericDict group(c10::StringType::get(), c10::AnyType::get());
  group.insert("lr", options_.lr());
  group.insert("momentum", options_.momentum());
  group.insert("dampening", options_.dampening());
  group.insert("weight_decay", options_.weight_decay());
  group.insert("nesterov", options_.nesterov());
  group.insert("maximize", false);
  return optimizer_state_dict(state, group, params_.size());
}

void Sgd::load_state_dict(const c10::IValue& value) {
  const auto dict = value.toGenericDict();
  const auto groups = dict.at("param_groups").toList();
  if (groups.size() == 0) throw std::runtime_error("optimizer state: no parameter group");
  // PyTorch numbers the parameters of all groups in one sequence. An optimizer of the trainable
  // parameters alone (IMTA's second stage: one group for its heads, one for its ISC modules) maps onto
  // this one's trainable parameters, in order.
  size_t count = 0;
  for (const auto& group : groups) count += group.get().toGenericDict().at("params").toList().size();
  std::vector<size_t> position(params_.size());
  std::iota(position.begin(), position.end(), size_t(0));
  if (count != params_.size()) {
    position.clear();
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i].requires_grad()) position.push_back(i);
    if (count != position.size())
      throw std::runtime_error("optimizer state: " + std::to_string(count) + " parameters, the model has " +
                               std::to_string(params_.size()) + " (" + std::to_string(position.size()) + " trainable)");
  }
  set_lr(groups.get(0).toGenericDict().at("lr").toDouble());
  std::vector<torch::Tensor> buffers(params_.size());
  for (const auto& entry : dict.at("state").toGenericDict()) {
    const auto j = static_cast<size_t>(entry.key().toInt());
    const auto buffer = entry.value().toGenericDict().at("momentum_buffer");
    if (buffer.isNone()) continue;  // PyTorch 2 keeps None for a parameter that never had a gradient
    const auto buf = buffer.toTensor();
    if (j >= position.size() || !buf.sizes().equals(params_[position[j]].sizes()))
      throw std::runtime_error("optimizer state: momentum buffer " + std::to_string(j) +
                               " does not match the model's parameters");
    buffers[position[j]] = buf.to(params_[position[j]].device());
  }
  buffers_ = std::move(buffers);
}

}  // namespace l2w::train
