// Concatenation along channels for feature maps that grow layer by layer (MSDNet's dense layers:
// out = [x, new channels]). `torch::cat` copies all of x at every layer, so a block of L layers copies its
// feature map L times; at the finest scale of a CIFAR MSDNet that copying was a fifth of a whole-network
// pass (docs/inference.md, "Dense layers concatenate in place"). Inside a ChannelArena, the map instead lives in a buffer
// with room to spare and each layer writes only its new channels.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace l2w::nn {

// While one is alive on a thread and autograd is off, append_channels on that thread grows feature maps
// in place. Only the whole used prefix of a buffer grows, so a map handed out earlier never changes, however
// often it is read or extended again (an extension of an older map copies). The outermost arena on a
// thread serves the whole scope: a block opens one, and so may a pass over all blocks, whose maps then
// grow from block to block.
class ChannelArena {
 public:
  ChannelArena();
  ~ChannelArena();
  ChannelArena(const ChannelArena&) = delete;
  ChannelArena& operator=(const ChannelArena&) = delete;

  // The arena serving this thread, or nullptr.
  static ChannelArena* current();

  // [x, parts...] along dim 1, grown in place when x is the whole used part of one of this arena's buffers.
  torch::Tensor append(const torch::Tensor& x, at::TensorList parts);

 private:
  struct Buffer {
    torch::Tensor storage;  // [N, capacity, H, W], contiguous
    int64_t used = 0;       // channels handed out, always a prefix
  };
  Buffer* buffer_of(const torch::Tensor& x);

  std::vector<Buffer> buffers_;
  bool installed_;  // false while an outer arena serves
};

// Whether each image of a 4-d map is one NCHW-contiguous block, the images any distance apart: a
// contiguous map, or a channel prefix of one such as append_channels hands out.
bool has_dense_images(const torch::Tensor& x);

// [x, parts...] along channels (dim 1) of 4-d maps. In place inside a ChannelArena with autograd off, for a
// CPU x whose images are each NCHW-contiguous (has_dense_images); `torch::cat` otherwise. Either way the
// values are the same.
torch::Tensor append_channels(const torch::Tensor& x, at::TensorList parts);

}  // namespace l2w::nn
