#include "l2w/dataset/data_sets.h"

#include "l2w/dataset/cifar.h"
#include "l2w/dataset/idx.h"

#ifdef L2W_WITH_IMAGES
#include <filesystem>

#include "l2w/dataset/image_folder.h"
#endif

namespace l2w::dataset {

const options::OptionList<DataOptions>& DataOptions::option_list() {
  using namespace options;
  using D = DataOptions;
  static const OptionList<D> list{
      choice<D>("data", {"--data"}, L2W_MEMBER(name),
                {{"cifar10", "cifar10"}, {"cifar100", "cifar100"}, {"ImageNet", "ImageNet"}, {"fashion-mnist", "fashion-mnist"},
                 {"mnist", "mnist"}},
                "data set")
          .in("data"),
      value<D>("data_url", {"--data_url", "--data-root"}, L2W_MEMBER(root),
               "data folder (default: fashion-mnist's Debian package folder, else data/NAME)")
          .in("data"),
      value<D>("train_limit", {"--train-limit"}, L2W_MEMBER(train_limit), "use only the first N training images (0: all)",
               Check::kNonNegative)
          .in("data"),
      value<D>("test_limit", {"--test-limit"}, L2W_MEMBER(test_limit), "use only the first N test images (0: all)",
               Check::kNonNegative)
          .in("data"),
  };
  return list;
}

std::string default_root(const std::string& name) {
  if (name == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  return "data";
}

namespace {

// DIR/train or DIR/val: files decoded as batches are made, ImageNet's statistics (docs/algorithm.md, "Data").
ImageDataset load_image_folder(const std::string& root, bool train) {
#ifdef L2W_WITH_IMAGES
  auto folder = std::make_shared<ImageFolder>(scan_image_folder((std::filesystem::path(root) / (train ? "train" : "val")).string()));
  ImageDataset data;
  data.labels = torch::tensor(folder->labels, torch::kInt64);
  data.num_classes = static_cast<int64_t>(folder->classes.size());
  data.mean = {0.485f, 0.456f, 0.406f};
  data.std = {0.229f, 0.224f, 0.225f};
  data.folder = std::move(folder);
  return data;
#else
  (void)train;
  throw DataError(root + ": this l2w was built without JPEG/PNG support (L2W_WITH_IMAGES; Debian: libjpeg62-turbo-dev libpng-dev)");
#endif
}

}  // namespace

DataSplits load_data(const DataOptions& options) {
  const std::string root = options.root.empty() ? default_root(options.name) : options.root;
  auto load = [&](bool train) {
    if (options.name == "cifar10") return load_cifar(root, 10, train);
    if (options.name == "cifar100") return load_cifar(root, 100, train);
    if (options.name == "fashion-mnist") return load_idx(root, train, kFashionMnistMean, kFashionMnistStd);
    if (options.name == "mnist") return load_idx(root, train, kMnistMean, kMnistStd);
    if (options.name == "ImageNet") return load_image_folder(root, train);
    throw options::OptionError("data", "unknown data set '" + options.name +
                                           "' (expected cifar10, cifar100, ImageNet, fashion-mnist or mnist)");
  };
  DataSplits splits;
  splits.train = std::make_shared<ImageDataset>(load(true).first(options.train_limit));
  splits.test = std::make_shared<ImageDataset>(load(false).first(options.test_limit));
  return splits;
}

}  // namespace l2w::dataset

namespace l2w::dataset {

DataGeometry geometry(const std::string& name) {
  if (name == "cifar10") return {3, 32, 32, 10, false};
  if (name == "cifar100") return {3, 32, 32, 100, false};
  if (name == "fashion-mnist" || name == "mnist") return {1, 28, 28, 10, false};
  if (name == "ImageNet") return {3, 224, 224, 1000, true};
  throw options::OptionError("data", "unknown data set '" + name +
                                         "' (expected cifar10, cifar100, ImageNet, fashion-mnist or mnist)");
}

}  // namespace l2w::dataset
