// An engine other than LibTorch computing a deployed network's stages (stage k: block k and exit k, one
// graph each, as `l2w export` writes them). The early-exit engines make the same decisions on its logits
// as on LibTorch's: thresholds, criteria, compaction and stage-wise batching do not change
// (docs/inference.md, "OpenVINO under l2w's early exit").
#pragma once

#include <string>

#include <torch/torch.h>

#include "l2w/models/multi_exit_network.h"

namespace l2w::infer {

class StageEngine {
 public:
  virtual ~StageEngine() = default;
  // Stage k on the previous stage's features (for k = 0, the images: float32 [N, C, H, W], contiguous):
  // `features` becomes stage k's own, and exit k's logits (float32 [N, classes]) are returned.
  virtual torch::Tensor run_stage(int64_t k, models::Features& features) = 0;
  // Every stage as one graph, the last exit's logits only (float32 [N, classes]), for a policy under which no
  // image leaves early: no stage boundaries to cross and no earlier exits to compute.
  virtual torch::Tensor run_whole(const torch::Tensor& images) = 0;
  // For reports: the engine, its version and what it compiled the stages for.
  virtual std::string description() const = 0;
};

}  // namespace l2w::infer
