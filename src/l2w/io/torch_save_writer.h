// Writing Python's torch.save format (the zip container of PyTorch >= 1.6) without Python.
#pragma once

#include <string>

#include <torch/torch.h>

namespace l2w::io {

// torch.save's file format for `value`, as torch::pickle_save writes it but without TorchScript's type
// tags (torch.jit._pickle.restore_type_tag): Python's torch.load refuses those unless weights_only=False,
// its default since PyTorch 2.6. Dictionaries, lists, strings, numbers and tensors remain, all of which
// torch.load accepts with weights_only=True.
std::string torch_save_bytes(const c10::IValue& value);

}  // namespace l2w::io
