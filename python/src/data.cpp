// l2w's data sets and batches as `l2w train` makes them (shuffled and augmented by the seed and the
// epoch), for a Python loop that must see exactly the images the command trains on.
#include "bindings.h"

#include "l2w/dataset/batch_loader.h"
#include "l2w/dataset/data_sets.h"
#include "l2w/dataset/transforms.h"

namespace l2w::python {
namespace {

// One epoch of batches, as an iterator of (images, labels, indices).
class EpochBatches {
 public:
  EpochBatches(std::shared_ptr<dataset::BatchLoader> loader, int64_t epoch) : loader_(std::move(loader)) {
    loader_->start_epoch(epoch);
  }
  py::tuple next() {
    std::optional<dataset::Batch> batch;
    {
      py::gil_scoped_release release;  // batches are made on the loader's threads
      batch = loader_->next();
    }
    if (!batch) throw py::stop_iteration();
    return py::make_tuple(batch->images, batch->labels, batch->indices);
  }

 private:
  std::shared_ptr<dataset::BatchLoader> loader_;
};

// Image i of `data` normalised as the test batches are ([C, H, W] float32) and its label.
py::tuple item(const std::shared_ptr<dataset::ImageDataset>& data, int64_t i) {
  if (i < 0) i += data->size();
  if (i < 0 || i >= data->size())
    throw py::index_error("index " + std::to_string(i) + " out of range for " + std::to_string(data->size()) + " images");
  if (data->images.defined()) {
    const auto shape = data->image_shape();
    const auto bytes = data->images[i].contiguous();
    auto out = torch::empty(shape, torch::kFloat32);
    dataset::normalize(bytes.data_ptr<uint8_t>(), out.data_ptr<float>(), {shape[0], shape[1], shape[2]}, data->mean,
                       data->std);
    return py::make_tuple(out, data->labels[i].item<int64_t>());
  }
  // Images decoded from files: the test transform, as a one-image batch of the loader makes it.
  dataset::BatchLoader loader(data, {i}, dataset::LoaderOptions().batch_size(1).shuffle(false).augment(false).workers(1));
  loader.start_epoch(0);
  const auto batch = loader.next();
  return py::make_tuple(batch->images[0], batch->labels[0].item<int64_t>());
}

}  // namespace

void bind_data(py::module_& m) {
  py::class_<dataset::ImageDataset, std::shared_ptr<dataset::ImageDataset>>(m, "Dataset")
      .def_property_readonly("size", &dataset::ImageDataset::size)
      .def_property_readonly("num_classes", [](const dataset::ImageDataset& d) { return d.num_classes; })
      .def_property_readonly("image_shape", &dataset::ImageDataset::image_shape)
      .def_property_readonly("mean", [](const dataset::ImageDataset& d) { return d.mean; })
      .def_property_readonly("std", [](const dataset::ImageDataset& d) { return d.std; })
      .def_property_readonly("labels", [](const dataset::ImageDataset& d) { return d.labels; })
      .def("_item", &item, py::arg("index"))
      .def_property_readonly("_images", [](const dataset::ImageDataset& d) { return d.images; })
      .def_static(
          "_from_tensors",
          [](const torch::Tensor& images, const torch::Tensor& labels, int64_t num_classes, std::vector<float> mean,
             std::vector<float> std) {
            auto d = std::make_shared<dataset::ImageDataset>();
            d->images = images, d->labels = labels, d->num_classes = num_classes;
            d->mean = std::move(mean), d->std = std::move(std);
            return d;
          },
          py::arg("images"), py::arg("labels"), py::arg("num_classes"), py::arg("mean"), py::arg("std"));
  m.def(
      "_load_data",
      [](const std::string& name, const std::string& root, int64_t train_limit, int64_t test_limit) {
        dataset::DataOptions options;
        options.name = name, options.root = root, options.train_limit = train_limit, options.test_limit = test_limit;
        const auto splits = dataset::load_data(options);
        return py::make_tuple(std::const_pointer_cast<dataset::ImageDataset>(splits.train),
                              std::const_pointer_cast<dataset::ImageDataset>(splits.test));
      },
      py::arg("name"), py::arg("root"), py::arg("train_limit"), py::arg("test_limit"));

  py::class_<EpochBatches>(m, "EpochBatches")
      .def("__iter__", [](EpochBatches& self) -> EpochBatches& { return self; })
      .def("__next__", &EpochBatches::next);
  py::class_<dataset::BatchLoader, std::shared_ptr<dataset::BatchLoader>>(m, "BatchLoader")
      .def(py::init([](std::shared_ptr<dataset::ImageDataset> data, std::vector<int64_t> subset, int64_t batch_size,
                       bool shuffle, bool augment, uint64_t seed, int64_t workers) {
             return std::make_shared<dataset::BatchLoader>(
                 data, std::move(subset),
                 dataset::LoaderOptions().batch_size(batch_size).shuffle(shuffle).augment(augment).seed(seed).workers(workers));
           }),
           py::arg("data"), py::arg("subset"), py::arg("batch_size"), py::arg("shuffle"), py::arg("augment"),
           py::arg("seed"), py::arg("workers"))
      .def("__len__", &dataset::BatchLoader::num_batches)
      .def_property_readonly("num_samples", &dataset::BatchLoader::num_samples)
      .def(
          "epoch",
          [](std::shared_ptr<dataset::BatchLoader> self, int64_t epoch) { return EpochBatches(self, epoch); },
          py::arg("epoch"));
}

}  // namespace l2w::python
