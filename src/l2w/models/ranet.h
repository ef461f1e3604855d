// RANet, the resolution adaptive network (docs/algorithm.md): one sub-network ("scale flow") per input
// resolution, lowest first. Each flow is a stack of dense blocks; the blocks of a higher-resolution flow
// also take, up-sampled, the features of the flow below ("fusion"), and an exit follows each of a flow's
// own blocks. Module names follow yangle15/RANet-pytorch so that its checkpoints load.
#pragma once

#include <string>
#include <vector>

#include "l2w/models/multi_exit_network.h"
#include "l2w/models/option_fields.h"

namespace l2w::models {

inline std::string ranet_step_text(bool step_grows) { return step_grows ? "lg" : "even"; }

// The reference's RANet defaults. n_blocks: blocks (and exits) of the lowest-resolution flow;
// block_step: each further flow has this many more blocks; gr_factor, bn_factor, scale_list: per flow,
// lowest resolution first, scale_list giving each flow's resolution level; compress_factor: the share of
// a fused layer's channels from the flow below; step: layers per block; step_grows (stepmode lg): block j
// has step·(j+1) layers, otherwise (even) step; imagenet: the 7x7/2 stem with max-pool and wide heads.
// Keys are the reference's flag names.
#define L2W_RANET_FIELDS(FIELD)                                                                    \
  FIELD(int64_t, n_blocks, 2, "nBlocks", field_text)                                               \
  FIELD(int64_t, block_step, 2, "block-step", field_text)                                          \
  FIELD(int64_t, n_channels, 16, "nChannels", field_text)                                          \
  FIELD(int64_t, growth_rate, 6, "growthRate", field_text)                                         \
  FIELD(std::vector<int64_t>, gr_factor, (std::vector<int64_t>{4, 2, 1}), "grFactor", field_text)  \
  FIELD(std::vector<int64_t>, bn_factor, (std::vector<int64_t>{4, 2, 1}), "bnFactor", field_text)  \
  FIELD(std::vector<int64_t>, scale_list, (std::vector<int64_t>{1, 2, 3}), "scale-list", field_text) \
  FIELD(double, compress_factor, 0.25, "compress-factor", field_text)                              \
  FIELD(int64_t, step, 4, "step", field_text)                                                      \
  FIELD(bool, step_grows, false, "stepmode", ranet_step_text)                                      \
  FIELD(double, reduction, 0.5, "reduction", field_text)                                           \
  FIELD(int64_t, num_classes, 10, "classes", field_text)                                           \
  FIELD(int64_t, in_channels, 3, "in_channels", field_text)                                        \
  FIELD(bool, imagenet, false, "stem", stem_text)

struct RANetOptions {
  L2W_OPTION_FIELDS(L2W_RANET_FIELDS)
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
