#include "l2w/distributed/data_parallel.h"

#include "l2w/runtime/option_list.h"

#include <stdexcept>

namespace l2w::distributed {

DataParallel::DataParallel(std::vector<torch::Tensor> params, std::shared_ptr<Communicator> comm,
                           DataParallelOptions options)
    : params_(std::move(params)), comm_(std::move(comm)) {
  if (!comm_ || comm_->world_size() == 1) return;
  bucket_of_.resize(params_.size());
  slot_of_.resize(params_.size());
  seen_.assign(params_.size(), false);
  int64_t bucket_numel = 0;
  for (size_t n = params_.size(); n-- > 0;) {
    const auto& p = params_[n];
    const bool fits = !buckets_.empty() && bucket_numel * p.element_size() < options.bucket_bytes() &&
                      params_[buckets_.back().params.front()].options().type_equal(p.options());
    if (!fits) {
      buckets_.emplace_back();
      bucket_numel = 0;
    }
    auto& b = buckets_.back();
    bucket_of_[n] = buckets_.size() - 1;
    slot_of_[n] = b.params.size();
    b.params.push_back(n);
    b.offsets.push_back(bucket_numel);
    bucket_numel += p.numel();
  }
  for (auto& b : buckets_) {
    const auto& first = params_[b.params.front()];
    int64_t numel = 0;
    for (size_t n : b.params) numel += params_[n].numel();
    b.flat = torch::zeros({numel}, first.options().requires_grad(false));
  }
  for (size_t n = 0; n < params_.size(); ++n) {
    hooks_.push_back(params_[n].register_hook([this, n](const torch::Tensor& grad) {
      if (in_backward_) on_gradient(n, grad);
    }));
  }
}

DataParallel::~DataParallel() {
  for (size_t n = 0; n < hooks_.size(); ++n) params_[n].remove_hook(hooks_[n]);
}

void DataParallel::on_gradient(size_t param, const torch::Tensor& grad) {
  if (seen_[param]) return;
  seen_[param] = true;
  auto& b = buckets_[bucket_of_[param]];
  b.flat.narrow(0, b.offsets[slot_of_[param]], params_[param].numel()).copy_(grad.detach().reshape(-1));
  --b.pending;
  launch_ready_buckets();
}

void DataParallel::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    auto& b = buckets_[next_launch_++];
    b.wait = comm_->all_reduce_sum_async(b.flat);
  }
}

void DataParallel::backward(const torch::Tensor& loss) {
  if (buckets_.empty()) {
    loss.backward();
    return;
  }
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.wait = nullptr;
  }
  std::fill(seen_.begin(), seen_.end(), false);
  next_launch_ = 0;
  in_backward_ = true;
  try {
    loss.backward();
  } catch (...) {
    in_backward_ = false;
    throw;
  }
  in_backward_ = false;
  // A parameter that took no part in this rank's loss contributes a zero gradient.
  for (size_t n = 0; n < params_.size(); ++n) {
    if (seen_[n]) continue;
    auto& b = buckets_[bucket_of_[n]];
    b.flat.narrow(0, b.offsets[slot_of_[n]], params_[n].numel()).zero_();
    seen_[n] = true;
    --b.pending;
  }
  launch_ready_buckets();
  const double scale = 1.0 / double(comm_->world_size());
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) {
    b.wait();
    b.flat.mul_(scale);
    for (size_t s = 0; s < b.params.size(); ++s) {
      auto& p = params_[b.params[s]];
      const auto average = b.flat.narrow(0, b.offsets[s], p.numel()).view_as(p);
      if (p.grad().defined()) {
        p.mutable_grad().copy_(average);
      } else {
        p.mutable_grad() = average.clone();
      }
    }
  }
}

void DataParallel::average(std::vector<torch::Tensor>& grads) const {
  if (!comm_ || comm_->world_size() == 1) return;
  all_reduce_sum(*comm_, grads);
  torch::NoGradGuard no_grad;
  for (auto& g : grads) g.div_(double(comm_->world_size()));
}

void DataParallel::check_replicas(const std::vector<torch::Tensor>& tensors, const std::string& what) const {
  if (!comm_ || comm_->world_size() == 1) return;
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a over every byte
  for (const auto& t : tensors) {
    const auto bytes = t.detach().to(torch::kCPU).contiguous();
    const auto* p = static_cast<const unsigned char*>(bytes.data_ptr());
    for (size_t i = 0, n = bytes.numel() * bytes.element_size(); i < n; ++i) hash = (hash ^ p[i]) * 1099511628211ULL;
  }
  const auto hashes = comm_->all_gather(torch::tensor({static_cast<int64_t>(hash)}, torch::kInt64));
  for (int64_t r = 1; r < comm_->world_size(); ++r) {
    if (hashes[r].item<int64_t>() != hashes[0].item<int64_t>())
      throw DistributedError("rank " + std::to_string(r) + "'s " + what + " differ from rank 0's");
  }
}

void DataParallel::broadcast_from_main(const std::vector<torch::Tensor>& tensors) const {
  if (!comm_ || comm_->world_size() == 1) return;
  broadcast(*comm_, tensors, 0);
}

int64_t share_of_batch(int64_t batch_size, int64_t world_size) {
  if (world_size < 1 || batch_size % world_size != 0)
    throw options::OptionError("batch_size", "the batch size " + std::to_string(batch_size) + " does not divide among " +
                                                 std::to_string(world_size) + " processes");
  return batch_size / world_size;
}

}  // namespace l2w::distributed
