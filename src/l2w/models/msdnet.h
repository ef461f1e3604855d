// MSDNet, the multi-scale dense network (docs/algorithm.md), with the reference's module names.
#pragma once

#include <string>
#include <vector>

#include "l2w/models/multi_exit_network.h"

namespace l2w::models {

enum class StepMode { kEven, kLinGrow };
enum class Prune { kMax, kMin };

struct MSDNetOptions {
  TORCH_ARG(int64_t, n_blocks) = 5;
  TORCH_ARG(int64_t, n_channels) = 16;
  TORCH_ARG(int64_t, base) = 1;  // layers in block 1
  TORCH_ARG(StepMode, step_mode) = StepMode::kLinGrow;
  TORCH_ARG(int64_t, step) = 1;
  TORCH_ARG(int64_t, growth_rate) = 6;
  TORCH_ARG(std::vector<int64_t>, gr_factor) = std::vector<int64_t>{1, 2, 4};  // one per scale
  TORCH_ARG(std::vector<int64_t>, bn_factor) = std::vector<int64_t>{1, 2, 4};
  TORCH_ARG(Prune, prune) = Prune::kMax;
  TORCH_ARG(bool, bottleneck) = true;
  TORCH_ARG(double, reduction) = 0.5;
  TORCH_ARG(int64_t, num_classes) = 10;
  TORCH_ARG(int64_t, in_channels) = 3;
  // ImageNet stem (7x7/2 conv + max-pool) and wide heads; otherwise the 32x32 (and 28x28) design.
  TORCH_ARG(bool, imagenet) = false;
};

// One stage of an MSDNet block: maps the features of the remaining scales (finest first) to new ones.
class ScaleStage : public torch::nn::Module {
 public:
  virtual Features forward(const Features& x) = 0;
};

class MSDNetImpl : public MultiExitNetworkImpl {
 public:
  explicit MSDNetImpl(const MSDNetOptions& options);

  int64_t num_exits() const override { return options.n_blocks(); }
  Features run_block(int64_t k, const Features& in) override;
  torch::Tensor run_exit(int64_t k, const Features& features) override;
  std::string arch() const override { return "msdnet"; }

  // Number of MSDN layers in each block.
  const std::vector<int64_t>& block_lengths() const { return block_lengths_; }

  MSDNetOptions options;
  torch::nn::ModuleList blocks;
  torch::nn::ModuleList classifier;

 private:
  std::vector<int64_t> block_lengths_;
};
TORCH_MODULE(MSDNet);

}  // namespace l2w::models
