// MSDNet, the multi-scale dense network (docs/algorithm.md), with the reference's module names.
#pragma once

#include <string>
#include <vector>

#include "l2w/models/multi_exit_network.h"
#include "l2w/models/option_fields.h"

namespace l2w::models {

enum class StepMode { kEven, kLinGrow };
enum class Prune { kMax, kMin };
// The reference's names: "even", "lin_grow"; "max", "min".
std::string step_mode_name(StepMode mode);
std::string prune_name(Prune prune);
inline std::string field_text(StepMode mode) { return step_mode_name(mode); }
inline std::string field_text(Prune prune) { return prune_name(prune); }
inline std::vector<StepMode> field_choices(StepMode) { return {StepMode::kEven, StepMode::kLinGrow}; }
inline std::vector<Prune> field_choices(Prune) { return {Prune::kMax, Prune::kMin}; }

// The seed's CIFAR MSDNet by default. base: layers in block 1; gr_factor and bn_factor: one per scale;
// imagenet: the ImageNet stem (7x7/2 conv + max-pool) and wide heads, otherwise the 32x32 (and 28x28)
// design. Keys are the reference's flag names.
#define L2W_MSDNET_FIELDS(FIELD)                                                                 \
  FIELD(int64_t, n_blocks, 5, "nBlocks", field_text)                                             \
  FIELD(int64_t, n_channels, 16, "nChannels", field_text)                                        \
  FIELD(int64_t, base, 1, "base", field_text)                                                    \
  FIELD(StepMode, step_mode, StepMode::kLinGrow, "stepmode", field_text)                         \
  FIELD(int64_t, step, 1, "step", field_text)                                                    \
  FIELD(int64_t, growth_rate, 6, "growthRate", field_text)                                       \
  FIELD(std::vector<int64_t>, gr_factor, (std::vector<int64_t>{1, 2, 4}), "grFactor", field_text) \
  FIELD(std::vector<int64_t>, bn_factor, (std::vector<int64_t>{1, 2, 4}), "bnFactor", field_text) \
  FIELD(Prune, prune, Prune::kMax, "prune", field_text)                                          \
  FIELD(bool, bottleneck, true, "bottleneck", field_text)                                        \
  FIELD(double, reduction, 0.5, "reduction", field_text)                                         \
  FIELD(int64_t, num_classes, 10, "classes", field_text)                                         \
  FIELD(int64_t, in_channels, 3, "in_channels", field_text)                                      \
  FIELD(bool, imagenet, false, "stem", stem_text)

struct MSDNetOptions {
  L2W_OPTION_FIELDS(L2W_MSDNET_FIELDS)
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
  torch::Tensor exit_features(int64_t k, const Features& features) override;
  int64_t exit_feature_width(int64_t k) const override;
  torch::Tensor exit_logits_from_features(int64_t k, const torch::Tensor& exit_features) override;
  std::string arch() const override { return "msdnet"; }
  bool supports_gradient_equilibrium() const override { return true; }  // exits read the coarsest scale

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
