// NumPy's .npy format (version 1.0), so saved probabilities open in numpy.load and any other tool.
#pragma once

#include <string>

#include <torch/torch.h>

namespace l2w::io {

// Writes a contiguous little-endian copy of `tensor` (float32/64, int32/64, uint8, bool), C order.
void write_npy(const std::string& path, const torch::Tensor& tensor);

// Reads what write_npy writes (and numpy.save, for those dtypes, C order, little-endian).
// Throws std::runtime_error naming the file on anything else or a truncated file.
torch::Tensor read_npy(const std::string& path);

}  // namespace l2w::io
