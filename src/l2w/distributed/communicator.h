// What data-parallel training needs from a process group: sums, broadcasts and gathers of tensors
// across the processes ("ranks") of one job. The trainer and the training steps see only this
// interface; process_group.h implements it on LibTorch's c10d (Gloo, NCCL) when the build has it.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace l2w::distributed {

// A collective or the rendezvous failed; the message names the rank at fault where it is known.
struct DistributedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;

  // Starts summing a contiguous tensor element-wise over all ranks, in place; the result is there once
  // the returned function (which throws DistributedError on failure) has run. Every rank must start
  // the same collectives in the same order.
  virtual std::function<void()> all_reduce_sum_async(torch::Tensor tensor) = 0;
  // Overwrites a contiguous tensor on every rank with root's.
  virtual void broadcast(torch::Tensor tensor, int64_t root) = 0;
  // Every rank's `tensor` (the same shape on all), in rank order.
  virtual std::vector<torch::Tensor> all_gather(const torch::Tensor& tensor) = 0;
  virtual void barrier() = 0;
  // Tells the other ranks, where the transport allows, why this one is about to stop.
  virtual void report_failure(const std::string& why) {}

  void all_reduce_sum(torch::Tensor tensor) { all_reduce_sum_async(std::move(tensor))(); }
};

// Sums (in place) or broadcasts from root any list of tensors, as one flat buffer per element type.
void all_reduce_sum(Communicator& comm, const std::vector<torch::Tensor>& tensors);
void broadcast(Communicator& comm, const std::vector<torch::Tensor>& tensors, int64_t root);

// The rows of every rank's tensor, rank after rank; ranks may hold different numbers of rows.
torch::Tensor all_gather_rows(Communicator& comm, const torch::Tensor& rows);

}  // namespace l2w::distributed
