// An ImageNet-style folder: one sub-folder per class, classes numbered in sorted name order (the
// torchvision ImageFolder convention, so class indices match the released checkpoints).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace l2w::dataset {

struct ImageFolder {
  std::string root;
  std::vector<std::string> classes;  // sorted
  std::vector<std::string> files;    // sorted within each class, classes in order
  std::vector<int64_t> labels;       // per file
};

// The .jpg/.jpeg/.png files (any letter case) under root/<class>/. DataError naming the folder when it
// is missing or holds no class with an image.
ImageFolder scan_image_folder(const std::string& root);

}  // namespace l2w::dataset
