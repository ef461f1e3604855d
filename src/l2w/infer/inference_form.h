// The inference form of a trained network (docs/inference.md): BatchNorm folded into the convolution before
// it, 1x1 convolutions computed as matrix products, and, where it measures faster, weights and activations
// in channels_last. Same module tree and same forward code as the trained network; it computes the trained
// network's eval-mode outputs.
#pragma once

#include "l2w/models/multi_exit_network.h"

namespace l2w::infer {

struct InferenceFormOptions {
  // NHWC weights, and inputs converted to NHWC by the engine: faster for some convolution shapes.
  TORCH_ARG(bool, channels_last) = false;
};

// What the conversion did, and how the engine must feed the result.
struct InferenceForm {
  int64_t folded_batch_norms = 0;
  int64_t pointwise_convs = 0;  // 1x1 convolutions that became nn::PointwiseConv
  torch::MemoryFormat input_format = torch::MemoryFormat::Contiguous;
};

// Lays out the network's 4-D weights in `format` (ChannelsLast or Contiguous); the engine must then be
// given the same format for its inputs. Which is faster depends on the network, the batch and the machine.
void set_memory_format(models::MultiExitNetworkImpl& net, torch::MemoryFormat format);

// Casts the network's floating-point weights and buffers to `dtype` (float32 or bfloat16), except the exits'
// last Linear layers, which stay float32: each exit's logits, and the confidences computed from them, then
// keep float32's resolution (bfloat16's 8-bit mantissa would round every confidence near 1 to one of a few
// values, and the thresholds fitted on them would tie; docs/inference.md, "Precision").
void set_precision(models::MultiExitNetworkImpl& net, torch::ScalarType dtype);

// Converts `net` in place (eval mode, no gradients). The result cannot be trained, nor saved as a
// checkpoint of the trained network: its state_dict has conv biases and no BatchNorm entries.
InferenceForm to_inference_form(models::MultiExitNetworkImpl& net, const InferenceFormOptions& options = {});

}  // namespace l2w::infer
