// MNIST and Fashion-MNIST in the IDX format, gzipped or not.
#pragma once

#include <string>

#include "l2w/dataset/image_dataset.h"

namespace l2w::dataset {

// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir`. The 10-class image set is
// 1-channel; `mean` and `std` are the given normalisation constants.
ImageDataset load_idx(const std::string& dir, bool train, float mean, float std);

// Decoded contents of one IDX file (gunzipped when the name ends in .gz).
std::vector<uint8_t> read_idx_bytes(const std::string& path);

}  // namespace l2w::dataset
