// Data-parallel gradients: every rank computes the gradient of its own batch, and the update applied
// everywhere uses their average, so the parameters stay identical on all ranks. Without a communicator
// (a single process) everything here is the plain local computation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "l2w/distributed/communicator.h"

namespace l2w::distributed {

// The images each of `world_size` processes takes of a batch of `batch_size`; std::invalid_argument
// unless it divides evenly (every rank must take an equal share for the averaged gradient to be the
// batch's).
int64_t share_of_batch(int64_t batch_size, int64_t world_size);

struct DataParallelOptions {
  // Gradients are summed in flat buckets of about this size, the last parameters' first: backward
  // produces them in roughly that order, so a full bucket's sum runs while backward goes on.
  TORCH_ARG(int64_t, bucket_bytes) = 25 << 20;
};

class DataParallel {
 public:
  DataParallel(std::vector<torch::Tensor> params, std::shared_ptr<Communicator> comm,
               DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int64_t rank() const { return comm_ ? comm_->rank() : 0; }
  int64_t world_size() const { return comm_ ? comm_->world_size() : 1; }
  bool is_main() const { return rank() == 0; }
  Communicator* communicator() const { return comm_.get(); }

  // loss.backward(), after which each parameter's .grad holds the average over ranks of their
  // gradients. The parameters' .grad must be zero or undefined before (the optimizer's zero_grad).
  void backward(const torch::Tensor& loss);
  // Averages `grads` over ranks in place (a gradient taken with autograd::grad, as the meta step's).
  void average(std::vector<torch::Tensor>& grads) const;
  // Overwrites `tensors` with rank 0's (initial parameters, BatchNorm statistics before evaluation).
  void broadcast_from_main(const std::vector<torch::Tensor>& tensors) const;
  // Throws DistributedError naming the first rank whose `tensors` differ from rank 0's in any bit:
  // replicas that drift apart would silently train different models.
  void check_replicas(const std::vector<torch::Tensor>& tensors, const std::string& what) const;

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_, in the order their gradients are laid out
    std::vector<int64_t> offsets;
    torch::Tensor flat;
    size_t pending = 0;  // gradients not yet copied into `flat` during the current backward
    std::function<void()> wait;
  };
  void on_gradient(size_t param, const torch::Tensor& grad);
  void launch_ready_buckets();

  std::vector<torch::Tensor> params_;
  std::shared_ptr<Communicator> comm_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;  // param -> bucket
  std::vector<size_t> slot_of_;    // param -> position in its bucket
  std::vector<bool> seen_;         // param's gradient arrived during the current backward
  std::vector<unsigned> hooks_;    // removed with this object: the parameters may outlive it
  size_t next_launch_ = 0;         // buckets launch in order: every rank must issue the same sequence
  bool in_backward_ = false;       // hooks act only inside backward(): the meta step's grads stay local
};

}  // namespace l2w::distributed
