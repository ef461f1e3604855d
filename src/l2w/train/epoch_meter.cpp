#include "l2w/train/epoch_meter.h"

#include <cmath>
#include <stdexcept>

#include "l2w/eval/accuracy.h"

namespace l2w::train {
namespace {

torch::Tensor accumulate(const torch::Tensor& sum, const torch::Tensor& value) {
  return sum.defined() ? sum + value : value;
}

}  // namespace

void EpochMeter::add(const StepReport& report, const torch::Tensor& labels) {
  std::vector<torch::Tensor> hits;
  for (const auto& logits : report.logits) hits.push_back(eval::topk_hits(logits, labels, 1));
  loss_sum_ = accumulate(loss_sum_, report.losses.sum(0).to(torch::kFloat64));
  correct_sum_ = accumulate(correct_sum_, torch::stack(hits));
  if (report.meta_loss.defined()) {
    meta_sum_ = accumulate(meta_sum_, report.meta_loss.to(torch::kFloat64));
    ++meta_steps;
  }
  samples += labels.size(0);
}

void EpochMeter::read() {
  if (!loss_sum_.defined()) return;
  const auto l = loss_sum_.cpu();
  const auto c = correct_sum_.cpu();
  for (size_t k = 0; k < loss.size(); ++k) {
    loss[k] = l[k].item<double>();
    correct[k] = c[k].item<int64_t>();
  }
  meta_loss = meta_sum_.defined() ? meta_sum_.item<double>() : 0.0;
}

void EpochMeter::sum_over_ranks(distributed::Communicator* comm) {
  read();
  if (comm == nullptr) return;
  std::vector<double> packed(loss);
  packed.insert(packed.end(), correct.begin(), correct.end());
  packed.insert(packed.end(), {meta_loss, double(meta_steps), double(samples)});
  auto t = torch::tensor(packed, torch::kFloat64);
  comm->all_reduce_sum(t);
  const auto* p = t.data_ptr<double>();
  const size_t k = loss.size();
  for (size_t i = 0; i < k; ++i) {
    loss[i] = p[i];
    correct[i] = static_cast<int64_t>(p[k + i]);
  }
  meta_loss = p[2 * k];
  meta_steps = static_cast<int64_t>(p[2 * k + 1]);
  samples = static_cast<int64_t>(p[2 * k + 2]);
}

torch::Tensor EpochMeter::state() const {
  const auto k = static_cast<int64_t>(loss.size());
  auto row = torch::zeros({2 * k + 3}, torch::kFloat64);
  if (loss_sum_.defined()) {
    row.slice(0, 0, k).copy_(loss_sum_);
    row.slice(0, k, 2 * k).copy_(correct_sum_);
  }
  if (meta_sum_.defined()) row[2 * k] = meta_sum_.item<double>();
  row[2 * k + 1] = double(meta_steps);
  row[2 * k + 2] = double(samples);
  return row;
}

void EpochMeter::load_state(const torch::Tensor& row) {
  const auto k = static_cast<int64_t>(loss.size());
  if (row.dim() != 1 || row.size(0) != 2 * k + 3) throw std::runtime_error("the checkpoint's epoch figures do not fit");
  const auto r = row.to(torch::kFloat64);  // on the device the sums are kept on
  meta_steps = static_cast<int64_t>(r[2 * k + 1].item<double>());
  samples = static_cast<int64_t>(r[2 * k + 2].item<double>());
  if (samples == 0) return;
  loss_sum_ = r.slice(0, 0, k).clone();
  correct_sum_ = r.slice(0, k, 2 * k).to(torch::kInt64);
  if (meta_steps > 0) meta_sum_ = r[2 * k].clone();
}

double EpochMeter::mean_meta_loss() const { return meta_steps ? meta_loss / double(meta_steps) : std::nan(""); }

}  // namespace l2w::train
