// A module's parameters and buffers under the reference's (PyTorch's) state_dict names and order.
#pragma once

#include <stdexcept>
#include <string>

#include <torch/torch.h>

namespace l2w::io {

using StateDict = torch::OrderedDict<std::string, torch::Tensor>;

// A checkpoint that cannot be read or does not fit the model; the message says which and why.
struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parameters and buffers of `module` and its children, depth first, as PyTorch orders them.
StateDict state_dict(const torch::nn::Module& module);

// Copies `state` into `module`. Strict: every key present, no extra key, every shape equal; otherwise
// one CheckpointError listing the missing, unexpected and mis-shaped keys (the first few and counts).
// `what` names the source in the message. Keys wrapped by DataParallel or DistributedDataParallel
// ("module." anywhere in the path, as IMTA's second stage nests it) are accepted.
void load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& what);

}  // namespace l2w::io
