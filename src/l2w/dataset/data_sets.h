// The data sets l2w knows by name (`--data`), their files and normalisation constants.
#pragma once

#include <memory>
#include <string>

#include "l2w/dataset/image_dataset.h"

#include "l2w/runtime/option_list.h"

namespace l2w::dataset {

struct DataOptions {
  std::string name = "fashion-mnist";  // cifar10 | cifar100 | ImageNet | fashion-mnist | mnist
  std::string root;                    // empty: the default folder for `name`
  int64_t train_limit = 0;             // use only the first N training samples (0: all)
  int64_t test_limit = 0;

  static const options::OptionList<DataOptions>& option_list();
};

struct DataSplits {
  std::shared_ptr<const ImageDataset> train;
  std::shared_ptr<const ImageDataset> test;
};

// The folder used when no root is given (Debian's dataset-fashion-mnist for fashion-mnist).
std::string default_root(const std::string& name);
DataSplits load_data(const DataOptions& options);

// Fashion-MNIST's training-set pixel mean and standard deviation (0..1 scale), computed from its 60000
// training images.
constexpr float kFashionMnistMean = 0.2860f;
constexpr float kFashionMnistStd = 0.3530f;
// MNIST's, from its 60000 training images.
constexpr float kMnistMean = 0.1307f;
constexpr float kMnistStd = 0.3081f;

}  // namespace l2w::dataset

namespace l2w::dataset {

// What a network needs to know of a data set without reading it.
struct DataGeometry {
  int64_t channels;
  int64_t height;
  int64_t width;
  int64_t num_classes;
  bool imagenet;  // ImageNet-style stem and heads
};

DataGeometry geometry(const std::string& name);

}  // namespace l2w::dataset
