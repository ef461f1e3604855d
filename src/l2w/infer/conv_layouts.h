// Batch 1, layer by layer (docs/inference.md, "Batch 1"): a network deployed in NCHW on a CPU runs each of
// its convolutions, for one image at a time, in the layout measured faster for that convolution.
#pragma once

#include <cstdint>
#include <string>

#include "l2w/infer/deployment.h"

namespace l2w::infer {

// What the choice measured: per image, the convolutions' summed times in NCHW and as chosen.
struct ConvLayouts {
  int64_t timed = 0, channels_last = 0;
  double nchw_ms = 0, chosen_ms = 0;
  std::string report() const;
};

// Records each convolution's input shape for one image (every exit computed), times it in NCHW and in
// channels_last on the current thread count (the best of 3 rounds of 20 calls each, taken in turn), and
// makes those more than 10 % faster in channels_last nn::ChannelsLastConv. For a CPU network in NCHW.
ConvLayouts choose_conv_layouts(DeployedNetwork& m);

}  // namespace l2w::infer
