#include "l2w/dataset/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "l2w/dataset/image_dataset.h"

namespace l2w::dataset {

ImageFolder scan_image_folder(const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(root, error)) throw DataError(root + ": missing (expected one sub-folder per class)");
  ImageFolder folder;
  folder.root = root;
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) folder.classes.push_back(entry.path().filename().string());
  std::sort(folder.classes.begin(), folder.classes.end());
  for (size_t c = 0; c < folder.classes.size(); ++c) {
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(root) / folder.classes[c])) {
      if (!entry.is_regular_file()) continue;
      std::string ext = entry.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      folder.files.push_back(std::move(f));
      folder.labels.push_back(static_cast<int64_t>(c));
    }
  }
  if (folder.files.empty()) throw DataError(root + ": no .jpg, .jpeg or .png images in class sub-folders");
  return folder;
}

}  // namespace l2w::dataset
