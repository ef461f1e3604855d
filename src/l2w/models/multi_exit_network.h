// The one interface that training, evaluation and inference see: a classifier with K exits that can be
// run one block at a time. Nothing outside models/ knows which backbone it is.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace l2w::models {

// What one block hands to the next: tensors whose first dimension is the batch (MSDNet: one per scale).
using Features = std::vector<torch::Tensor>;

class MultiExitNetworkImpl : public torch::nn::Module {
 public:
  virtual int64_t num_exits() const = 0;
  // Runs block k (0-based) on the features of block k-1; block 0 takes {images}.
  virtual Features run_block(int64_t k, const Features& in) = 0;
  // Exit k's logits from block k's features.
  virtual torch::Tensor run_exit(int64_t k, const Features& features) = 0;
  // What exit k's last Linear reads from block k's features ([N, width]), and that width: new heads on a
  // trained backbone (IMTA's second stage, models/imta_network.h) read them. std::logic_error where a
  // backbone does not offer them.
  virtual torch::Tensor exit_features(int64_t k, const Features& features);
  virtual int64_t exit_feature_width(int64_t k) const;
  // Exit k's last Linear on what exit_features(k, ·) returned: run_exit without running the head's
  // layers (and their BatchNorm statistics) a second time.
  virtual torch::Tensor exit_logits_from_features(int64_t k, const torch::Tensor& exit_features);
  // The reference's name for the architecture (`msdnet`, `RANet`), stored in checkpoints.
  virtual std::string arch() const = 0;

  // Every exit's logits, first exit first.
  std::vector<torch::Tensor> forward(const torch::Tensor& images);

  // Gradient equilibrium (IMTA; docs/algorithm.md): in forward(), the last feature tensor of block k
  // (0-based, of n) reaches exit k with its gradient scaled by 1/(n-k) and the later blocks with theirs
  // scaled by (n-k-1), so that block k receives g_exit/(n-k) + (n-k-1)/(n-k)·g_later. The outputs are
  // unchanged, and so is inference. std::invalid_argument for a backbone without
  // supports_gradient_equilibrium().
  void set_gradient_equilibrium(bool on);
  bool gradient_equilibrium() const { return gradient_equilibrium_; }
  // Whether exit k reads block k's last feature tensor alone, so that scaling that tensor's gradient
  // splits a block's gradient between its exit and the later blocks as gradient equilibrium means.
  virtual bool supports_gradient_equilibrium() const { return false; }

 private:
  bool gradient_equilibrium_ = false;
};

using MultiExitNetwork = std::shared_ptr<MultiExitNetworkImpl>;

// std::invalid_argument, in words a caller can act on, for images `net` cannot take: not [N, C, H, W],
// an empty batch, or another dtype or device than the parameters' (rather than an operator's message
// from deep inside the first convolution).
void check_images(const MultiExitNetworkImpl& net, const torch::Tensor& images);

}  // namespace l2w::models
