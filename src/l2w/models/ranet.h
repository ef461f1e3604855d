// RANet, the resolution adaptive network (docs/algorithm.md): one sub-network ("scale flow") per input
// resolution, lowest first. Each flow is a stack of dense blocks; the blocks of a higher-resolution flow
// also take, up-sampled, the features of the flow below ("fusion"), and an exit follows each of a flow's
// own blocks. Module names follow yangle15/RANet-pytorch so that its checkpoints load.
#pragma once

#include <string>
#include <vector>

#include "l2w/models/multi_exit_network.h"

namespace l2w::models {

struct RANetOptions {
  TORCH_ARG(int64_t, n_blocks) = 2;     // blocks (and exits) of the lowest-resolution flow
  TORCH_ARG(int64_t, block_step) = 2;   // each further flow has this many more blocks
  TORCH_ARG(int64_t, n_channels) = 16;
  TORCH_ARG(int64_t, growth_rate) = 6;
  TORCH_ARG(std::vector<int64_t>, gr_factor) = std::vector<int64_t>{4, 2, 1};   // per flow, lowest resolution first
  TORCH_ARG(std::vector<int64_t>, bn_factor) = std::vector<int64_t>{4, 2, 1};
  TORCH_ARG(std::vector<int64_t>, scale_list) = std::vector<int64_t>{1, 2, 3};  // per flow: its resolution level
  TORCH_ARG(double, compress_factor) = 0.25;  // share of a fused layer's channels from the flow below
  TORCH_ARG(int64_t, step) = 4;               // layers per block
  TORCH_ARG(bool, step_grows) = false;        // stepmode lg: block j has step·(j+1) layers; even: step
  TORCH_ARG(double, reduction) = 0.5;
  TORCH_ARG(int64_t, num_classes) = 10;
  TORCH_ARG(int64_t, in_channels) = 3;
  TORCH_ARG(bool, imagenet) = false;  // 7x7/2 stem with max-pool and wide heads
};

// A block of one flow: maps its input features (and, for fusion blocks, the per-layer features of the
// same block in the flow below) to its output and the features of each of its layers.
class RANetBlock : public torch::nn::Module {
 public:
  struct Output {
    torch::Tensor x;                   // to the next block and the exit
    std::vector<torch::Tensor> layers;  // input and every layer's output, for the flow above
  };
  virtual Output forward(const torch::Tensor& x, const std::vector<torch::Tensor>& below) = 0;
};

class RANetImpl : public MultiExitNetworkImpl {
 public:
  explicit RANetImpl(const RANetOptions& options);

  int64_t num_exits() const override { return static_cast<int64_t>(exit_blocks_.size()); }
  Features run_block(int64_t k, const Features& in) override;
  torch::Tensor run_exit(int64_t k, const Features& features) override;
  std::string arch() const override { return "RANet"; }

  RANetOptions options;
  torch::nn::ModuleList scale_flows;
  torch::nn::ModuleList classifier;

 private:
  struct Position {
    int64_t flow = 0;
    int64_t block = 0;
  };
  // Where the network stands between blocks, and how it travels through Features.
  struct State;
  State unpack(int64_t k, const Features& in) const;
  Features pack(const State& state) const;

  std::vector<int64_t> flow_blocks_;    // blocks per flow
  std::vector<int64_t> fused_blocks_;   // of which the first ones fuse the flow below
  std::vector<int64_t> block_layers_;   // layers of block j (the same in every flow)
  std::vector<Position> exit_blocks_;   // the block each exit follows
  std::shared_ptr<class RAFirstLayerImpl> first_layer_;  // registered as FirstLayer
};
TORCH_MODULE(RANet);

}  // namespace l2w::models
