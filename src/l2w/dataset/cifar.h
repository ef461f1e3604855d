// CIFAR-10 and CIFAR-100 in the official binary format.
#pragma once

#include <string>

#include "l2w/dataset/image_dataset.h"

namespace l2w::dataset {

// CIFAR-10: data_batch_1..5.bin (train) or test_batch.bin, records of 1 label byte + 3072 pixel bytes.
// CIFAR-100: train.bin or test.bin, records of coarse label, fine label, 3072 bytes; fine labels are used.
// `dir` is the folder holding the files, or its parent (cifar-10-batches-bin / cifar-100-binary).
ImageDataset load_cifar(const std::string& dir, int num_classes, bool train);

}  // namespace l2w::dataset
