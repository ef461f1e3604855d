// Folding BatchNorm into the convolution before it, for inference (docs/inference.md): in eval mode a
// BatchNorm is an affine map per channel, y = γ (x − μ) / √(σ² + ε) + β, and so is a convolution's
// output channel, so the pair is one convolution with weight w·γ/√(σ² + ε) and bias β − μ·γ/√(σ² + ε).
// One operator instead of two, and the BatchNorm's pass over the feature map is gone.
#pragma once

#include <torch/torch.h>

namespace l2w::nn {

// Folds, in every Sequential under `root`, each BatchNorm2d that directly follows a Conv2d into that
// convolution (a new Conv2d with a bias); the BatchNorm's place holds an Identity, so layer indices and
// the network's code stay as they are. Uses the running statistics: the result computes what the network
// computes in eval mode, and can no longer be trained. Returns the number of BatchNorms folded.
int64_t fold_batch_norms(torch::nn::Module& root);

}  // namespace l2w::nn
