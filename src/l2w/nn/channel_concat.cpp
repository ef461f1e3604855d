#include "l2w/nn/channel_concat.h"

#include <torch/csrc/jit/frontend/tracer.h>

#include <algorithm>

namespace l2w::nn {
namespace {

thread_local ChannelArena* current_arena = nullptr;

torch::Tensor cat(const torch::Tensor& x, at::TensorList parts) {
  std::vector<torch::Tensor> all{x};
  all.insert(all.end(), parts.begin(), parts.end());
  return torch::cat(all, 1);
}

// Whether each part can be copied into channels of a map shaped like x (anything else goes to torch::cat,
// which promotes types and reports mismatches as it always does).
bool fits(const torch::Tensor& x, at::TensorList parts) {
  if (x.dim() != 4 || !x.is_cpu()) return false;
  return std::all_of(parts.begin(), parts.end(), [&](const torch::Tensor& p) {
    return p.dim() == 4 && p.scalar_type() == x.scalar_type() && p.device() == x.device() &&
           p.size(0) == x.size(0) && p.size(2) == x.size(2) && p.size(3) == x.size(3);
  });
}

}  // namespace

bool has_dense_images(const torch::Tensor& x) {
  if (x.dim() != 4) return false;
  const int64_t h = x.size(2), w = x.size(3);
  return x.stride(3) == 1 && x.stride(2) == w && x.stride(1) == h * w && x.stride(0) >= x.size(1) * h * w;
}

ChannelArena::ChannelArena() : installed_(current_arena == nullptr) {
  if (installed_) current_arena = this;
}

ChannelArena::~ChannelArena() {
  if (installed_) current_arena = nullptr;
}

ChannelArena* ChannelArena::current() { return current_arena; }

ChannelArena::Buffer* ChannelArena::buffer_of(const torch::Tensor& x) {
  for (auto& b : buffers_) {
    // Only the whole used prefix may grow: an older, shorter view of the buffer must not see its room
    // written twice.
    if (b.storage.data_ptr() == x.data_ptr() && b.used == x.size(1) && x.strides() == b.storage.strides() &&
        x.size(0) == b.storage.size(0) && x.size(2) == b.storage.size(2) && x.size(3) == b.storage.size(3))
      return &b;
  }
  return nullptr;
}

torch::Tensor ChannelArena::append(const torch::Tensor& x, at::TensorList parts) {
  if (!fits(x, parts)) return cat(x, parts);
  int64_t needed = x.size(1);
  for (const auto& p : parts) needed += p.size(1);

  Buffer* b = buffer_of(x);
  if (b == nullptr || b->storage.size(1) < needed) {
    if (b == nullptr && !has_dense_images(x)) return cat(x, parts);  // channels_last stays channels_last
    // Buffers nobody else holds any more are dropped. The new one has room for four more appends like this
    // one (a dense block adds the same width at every layer) and at least doubles, so x is copied at most
    // once per four layers and amortised O(1) times per channel.
    buffers_.erase(std::remove_if(buffers_.begin(), buffers_.end(),
                                  [](const Buffer& old) { return old.storage.storage().use_count() == 1; }),
                   buffers_.end());
    const int64_t capacity = std::max(2 * needed, needed + 4 * (needed - x.size(1)));
    Buffer grown{torch::empty({x.size(0), capacity, x.size(2), x.size(3)}, x.options()), x.size(1)};
    grown.storage.narrow(1, 0, x.size(1)).copy_(x);
    buffers_.push_back(std::move(grown));
    b = &buffers_.back();
  }
  for (const auto& p : parts) {
    b->storage.narrow(1, b->used, p.size(1)).copy_(p);
    b->used += p.size(1);
  }
  return b->storage.narrow(1, 0, b->used);
}

torch::Tensor append_channels(const torch::Tensor& x, at::TensorList parts) {
  auto* arena = ChannelArena::current();
  // A trace (torch.jit.trace, for ONNX export) records cat, whose sizes follow the input's; the arena's
  // buffer would be recorded with the traced batch size fixed.
  if (arena != nullptr && !torch::GradMode::is_enabled() && !torch::jit::tracer::isTracing())
    return arena->append(x, parts);
  return cat(x, parts);
}

}  // namespace l2w::nn
