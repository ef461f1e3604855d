#include "l2w/train/divergence.h"

#include <cmath>
#include <utility>
#include <vector>

namespace l2w::train {
namespace {

// The first non-finite value of `t`, as text ("nan", "inf", "-inf").
std::string first_non_finite(const torch::Tensor& t) {
  const double v = t.masked_select(torch::isfinite(t).logical_not()).flatten()[0].item<double>();
  return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

void check_tensors(const io::StateDict& tensors, const std::string& where, int64_t epoch) {
  for (const auto& item : tensors) {
    const auto& t = item.value();
    if (!t.is_floating_point() || torch::isfinite(t).all().item<bool>()) continue;
    throw DivergenceError("after epoch " + std::to_string(epoch) + ", " + where + " '" + item.key() + "' holds " +
                          first_non_finite(t) + ": not writing a checkpoint of a diverged run");
  }
}

const char* const kQuantities[] = {"training loss", "meta loss", "WPN loss weight", "gradient norm"};
const char* const kValues[] = {"nan", "inf", "-inf"};

// {quantity, value kind} of `t`'s first non-finite element (kind 0 nan, 1 inf, 2 -inf) and whether it has
// one, as device tensors made without host data.
std::pair<torch::Tensor, torch::Tensor> first_non_finite_record(const torch::Tensor& t, int64_t quantity) {
  const auto values = t.detach().flatten();
  const auto bad = torch::isfinite(values).logical_not();
  const auto value = values.index_select(0, bad.to(torch::kByte).argmax().unsqueeze(0));
  const auto kind = torch::where(torch::isnan(value), 0, torch::where(value > 0, 1, 2)).to(torch::kLong);
  return {torch::cat({torch::full({1}, quantity, kind.options()), kind}), bad.any()};
}

}  // namespace

void DivergenceWatch::add(const StepReport& report, int64_t epoch, int64_t iteration) {
  torch::NoGradGuard no_grad;
  const torch::Tensor watched[] = {report.losses, report.meta_loss, report.weights, report.grad_norm};
  torch::Tensor record, any_bad;
  for (int64_t q = 3; q >= 0; --q) {  // backwards, so that the first bad quantity's record wins
    if (!watched[q].defined()) continue;
    auto [r, bad] = first_non_finite_record(watched[q], q);
    record = record.defined() ? torch::where(bad, r, record) : r;
    any_bad = any_bad.defined() ? any_bad.logical_or(bad) : bad;
  }
  if (!record.defined()) return;
  if (!first_.defined()) first_ = torch::full({3}, -1, record.options());
  // The position stays on the host; the device keeps the index of the report it belongs to.
  const auto index = torch::full({1}, static_cast<int64_t>(positions_.size()), record.options());
  positions_.emplace_back(epoch, iteration);
  first_.copy_(torch::where(any_bad.logical_and(first_[0] < 0), torch::cat({index, record}), first_));
}

void DivergenceWatch::check() {
  if (!first_.defined()) return;
  const auto first = first_.to(torch::kCPU);
  const auto* f = first.data_ptr<int64_t>();
  if (f[0] < 0) {
    positions_.clear();  // all finite so far: the positions of the reports seen need not be kept
    return;
  }
  const auto [epoch, iteration] = positions_.at(static_cast<size_t>(f[0]));
  throw DivergenceError("training diverged in epoch " + std::to_string(epoch) + ", iteration " +
                        std::to_string(iteration) + ": the " + kQuantities[f[1]] + " is " + kValues[f[2]] +
                        "; the run stops, its last checkpoint is untouched (resume it with a lower lr)");
}

void check_finite(const StepReport& report, int64_t epoch, int64_t iteration) {
  DivergenceWatch watch;
  watch.add(report, epoch, iteration);
  watch.check();
}

void check_finite(const io::Checkpoint& checkpoint) {
  check_tensors(checkpoint.state_dict, "parameter", checkpoint.epoch);
  check_tensors(checkpoint.meta_state_dict, "WPN parameter", checkpoint.epoch);
}

}  // namespace l2w::train
