// Reading what Python's torch.save writes (the zip format of PyTorch >= 1.6), without Python.
//
// The container is read with LibTorch's PyTorchStreamReader; the pickle inside (data.pkl) with our own
// reader of the subset of the pickle protocol that torch.save emits, because LibTorch's
// torch::pickle_load rejects a real state_dict() (a collections.OrderedDict) and the APPEND opcode of
// optimizer states. Tensors become CPU tensors; dictionaries (OrderedDict too) keep their order.
// Anything else (an unknown opcode or Python class, a truncated record) is an error naming the file,
// never an abort.
#pragma once

#include <string>

#include <torch/torch.h>

namespace l2w::io {

// The object torch.save stored in `path`. Throws CheckpointError naming the file and the problem.
c10::IValue read_torch_save(const std::string& path);

}  // namespace l2w::io
