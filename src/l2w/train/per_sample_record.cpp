#include "l2w/train/per_sample_record.h"

#include <array>
#include <filesystem>
#include <sstream>

#include "l2w/criterion/multi_exit_loss.h"
#include "l2w/runtime/atomic_file.h"

namespace l2w::train {
namespace {

void write_table(const std::string& path, const torch::Tensor& index, const torch::Tensor& values) {
  std::ostringstream out;
  out << "sample";
  for (int64_t k = 1; k <= values.size(1); ++k) out << "\texit_" << k;
  out << '\n';
  const auto v = values.to(torch::kFloat64).contiguous();
  const auto* p = v.data_ptr<double>();
  const auto* idx = index.data_ptr<int64_t>();
  for (int64_t i = 0; i < v.size(0); ++i) {
    out << idx[i];
    for (int64_t k = 0; k < v.size(1); ++k) out << '\t' << p[i * v.size(1) + k];
    out << '\n';
  }
  runtime::write_file_atomically(path, out.str());
}

}  // namespace

void PerSampleRecord::add(const torch::Tensor& indices, const StepReport& report) {
  indices_.push_back(indices.to(report.losses.device(), /*non_blocking=*/true));
  losses_.push_back(report.losses);
  confidences_.push_back(criterion::per_exit_confidences(report.logits));
  if (report.weights.defined()) weights_.push_back(report.weights);
}

void PerSampleRecord::gather(distributed::Communicator* comm) {
  if (comm == nullptr) return;
  for (auto* part : {&indices_, &losses_, &confidences_, &weights_}) {
    if (!part->empty()) *part = {distributed::all_gather_rows(*comm, torch::cat(*part))};
  }
}

std::vector<torch::Tensor> PerSampleRecord::state() const {
  std::vector<torch::Tensor> tables;
  if (indices_.empty()) return tables;
  for (const auto* part : {&indices_, &losses_, &confidences_, &weights_})
    if (!part->empty()) tables.push_back(torch::cat(*part).cpu());
  return tables;
}

void PerSampleRecord::load_state(const std::vector<torch::Tensor>& tables) {
  indices_.clear(), losses_.clear(), confidences_.clear(), weights_.clear();
  const std::array parts{&indices_, &losses_, &confidences_, &weights_};
  for (size_t i = 0; i < tables.size() && i < 4; ++i) parts[i]->push_back(tables[i]);
}

void PerSampleRecord::write(const io::RunFolder& folder, int64_t epoch) const {
  const auto index = torch::cat(indices_).cpu();
  std::filesystem::create_directories(std::filesystem::path(folder.per_sample(epoch, "losses")).parent_path());
  write_table(folder.per_sample(epoch, "losses"), index, torch::cat(losses_).cpu());
  write_table(folder.per_sample(epoch, "confidences"), index, torch::cat(confidences_).cpu());
  if (!weights_.empty()) write_table(folder.per_sample(epoch, "weights"), index, torch::cat(weights_).cpu());
}

}  // namespace l2w::train
