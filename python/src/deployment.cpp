// Deployment: the early-exit classifier at a set of thresholds, on the network in its inference form, as
// `l2w infer` runs it.
#include "bindings.h"
#include "options.h"

#include "l2w/infer/deployment.h"
#include "l2w/infer/early_exit_classifier.h"
#include "l2w/infer/stagewise_classifier.h"
#include "l2w/io/thresholds_file.h"

namespace l2w::python {
namespace {

class Classifier {
 public:
  Classifier(models::MultiExitNetwork net, const std::vector<int64_t>& image_shape, std::vector<float> thresholds,
             const std::string& criterion, std::vector<float> temperatures, std::vector<int64_t> exit_muladds,
             const std::string& device, const py::dict& deployment) {
    const auto c = criterion::exit_criterion_from_name(criterion);
    if (!c) throw std::invalid_argument("criterion: '" + criterion + "' is not max-prob, entropy, margin or patience");
    auto options = infer::DeploymentOptions().layout(infer::Layout::kContiguous).choose_latency_threads(false);
    OptionReader reader(deployment);
    reader.read(options, infer::DeploymentOptions::option_list());
    reader.read("batch_size", options.throughput_batch());
    reader.check_all_read();
    if (options.throughput_batch() < 1)
      throw std::invalid_argument("batch_size: " + std::to_string(options.throughput_batch()) + ", expected at least 1");
    deployed_ = infer::deploy(std::move(net), image_shape, torch::Device(device), options);
    const auto plan = infer::plan_deployment(deployed_, options, torch::Device(device));
    precision_report_ = plan.precision, network_report_ = plan.network;
    io::ExitThresholds given;
    given.thresholds = thresholds;
    given.exit_muladds = std::move(exit_muladds);  // empty unless they came from a file or a fit
    infer::check_thresholds_fit(given, deployed_, "");
    engine_ = std::make_unique<infer::EarlyExitClassifier>(deployed_, std::move(thresholds), *c,
                                                          std::move(temperatures));
  }
  py::tuple classify(const torch::Tensor& images) {
    check_images(images);
    infer::ExitDecisions d;
    {
      py::gil_scoped_release release;
      torch::NoGradGuard no_grad;
      d = engine_->classify(images);
    }
    return decisions(d);
  }
  // A stream's next images, batched stage-wise at `batch_size` (the first push's decides).
  void push(const torch::Tensor& images, int64_t batch_size) {
    check_images(images);
    if (!stream_) stream_ = std::make_unique<infer::StagewiseClassifier>(*engine_, batch_size);
    py::gil_scoped_release release;
    stream_->push(images);
  }
  py::tuple finish() {
    infer::ExitDecisions d;
    if (stream_) {
      py::gil_scoped_release release;
      d = stream_->finish();
    }
    stream_.reset();
    return d.prediction.defined() ? decisions(d) : decisions({torch::empty({0}, torch::kLong), torch::empty({0}),
                                                              torch::empty({0}, torch::kLong)});
  }
  std::string precision() const { return runtime::dtype_name(deployed_.precision.dtype); }
  const std::string& precision_report() const { return precision_report_; }
  const std::string& network_report() const { return network_report_; }
  std::vector<int64_t> exit_muladds() const {
    std::vector<int64_t> out;
    for (const auto& c : deployed_.costs) out.push_back(c.muladds);
    return out;
  }

 private:
  // The shape the network takes, and finite values: engines treat NaN differently (LibTorch hands it on to a
  // NaN confidence; OpenVINO's ReLU turns it into 0 and an ordinary-looking answer), so none gets one.
  void check_images(const torch::Tensor& images) const {
    const auto& shape = deployed_.image_shape;
    if (images.dim() != 4 || images.size(1) != shape[1] || images.size(2) != shape[2] || images.size(3) != shape[3])
      throw std::invalid_argument("images: expected [N, " + std::to_string(shape[1]) + ", " + std::to_string(shape[2]) +
                                  ", " + std::to_string(shape[3]) + "], got " + c10::str(images.sizes()));
    if (images.is_floating_point() && images.numel() > 0) {
      const auto finite = torch::isfinite(images).flatten(1).all(1);
      if (!finite.all().item<bool>())
        throw std::invalid_argument("images: image " + std::to_string(finite.logical_not().nonzero()[0].item<int64_t>()) +
                                    " has NaN or infinite values");
    }
  }
  static py::tuple decisions(const infer::ExitDecisions& d) {
    return py::make_tuple(d.prediction, d.exit_index, d.confidence);
  }

  infer::DeployedNetwork deployed_;
  std::string precision_report_, network_report_;
  std::unique_ptr<infer::EarlyExitClassifier> engine_;
  std::unique_ptr<infer::StagewiseClassifier> stream_;
};

}  // namespace

void bind_deployment(py::module_& m) {
  py::class_<Classifier>(m, "Classifier")
      .def(py::init<models::MultiExitNetwork, const std::vector<int64_t>&, std::vector<float>, const std::string&,
                    std::vector<float>, std::vector<int64_t>, const std::string&, const py::dict&>(),
           py::arg("network"), py::arg("image_shape"), py::arg("thresholds"), py::arg("criterion"),
           py::arg("temperatures"), py::arg("exit_muladds"), py::arg("device"), py::arg("deployment"))
      .def("classify", &Classifier::classify, py::arg("images"))
      .def("push", &Classifier::push, py::arg("images"), py::arg("batch_size"))
      .def("finish", &Classifier::finish)
      .def_property_readonly("exit_muladds", &Classifier::exit_muladds)
      .def_property_readonly("precision", &Classifier::precision)
      .def_property_readonly("precision_report", &Classifier::precision_report)
      .def_property_readonly("network_report", &Classifier::network_report);
  m.def(
      "_read_thresholds",
      [](const std::string& path) { return thresholds_dict(io::read_thresholds(path)); },
      py::arg("path"));
}

}  // namespace l2w::python
