// Training from Python: one iteration per call on the caller's batches (train::Learner), or the whole
// trainer on a built-in data set, with a callback per iteration and Ctrl-C stopping it cleanly.
#include "bindings.h"

#include <chrono>

#include "l2w/dataset/data_sets.h"
#include "l2w/io/run_folder.h"
#include "l2w/meta/training_method.h"
#include "l2w/models/network_options.h"
#include "l2w/train/learner.h"
#include "l2w/train/preemption.h"
#include "l2w/train/trained_network.h"
#include "l2w/train/trainer.h"
#include "options.h"

namespace l2w::python {
namespace {

// The method's options by the reference's names: method, L2W's (or IMTA's distillation's), label smoothing.
meta::MethodOptions method_options(OptionReader& in) {
  meta::MethodOptions o;
  in.read(o, meta::MethodOptions::option_list());
  return o;
}

// Each option of `list` as (name, type, default, help), for the docstrings.
template <class S>
py::list option_help(const options::OptionList<S>& list, const S& defaults) {
  py::list out;
  for (const auto& o : list) out.append(py::make_tuple(o.name, o.type_name, o.text(defaults), o.help));
  return out;
}

py::dict step_result(const train::StepReport& r, double lr) {
  py::dict out;
  out["losses"] = r.losses;
  out["logits"] = r.logits;
  out["weights"] = r.weights.defined() ? py::cast(r.weights) : py::none();
  out["meta_loss"] = r.meta_loss.defined() ? py::cast(r.meta_loss) : py::none();
  out["lr"] = lr;
  return out;
}

}  // namespace

void bind_training(py::module_& m) {
  py::class_<train::Learner>(m, "Learner")
      .def(py::init([](models::MultiExitNetwork net, int64_t epochs, int64_t iterations_per_epoch, py::dict options) {
             OptionReader in(options);
             train::LearnerOptions o;
             in.read(o.sgd(), train::SgdOptions::option_list());
             in.read(o.schedule(), train::LrSchedule::option_list());
             const auto method = method_options(in);
             in.check_all_read();
             o.schedule().epochs = epochs;
             o.schedule().iterations_per_epoch = iterations_per_epoch;
             return std::make_unique<train::Learner>(net, o, meta::step_factory(method));
           }),
           py::arg("network"), py::arg("epochs"), py::arg("iterations_per_epoch"), py::arg("options"))
      .def(
          "learn",
          [](train::Learner& self, const torch::Tensor& images, const torch::Tensor& labels, int64_t epoch,
             int64_t iteration) {
            train::StepReport report;
            {
              py::gil_scoped_release release;
              report = self.learn(images, labels, epoch, iteration);
            }
            return step_result(report, self.lr());
          },
          py::arg("images"), py::arg("labels"), py::arg("epoch"), py::arg("iteration"))
      .def(
          "_time",
          [](train::Learner& self, const torch::Tensor& images, const torch::Tensor& labels, int64_t iterations) {
            // The same iterations in a C++ loop, as `l2w bench train` times them: the benchmark's baseline.
            py::gil_scoped_release release;
            const auto start = std::chrono::steady_clock::now();
            for (int64_t i = 0; i < iterations; ++i) self.learn(images, labels, 0, i);
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          },
          py::arg("images"), py::arg("labels"), py::arg("iterations"))
      .def_property_readonly("lr", &train::Learner::lr)
      .def(
          "_wpn",
          [](train::Learner& self) -> py::object {
            auto* l2w = dynamic_cast<meta::L2WStep*>(&self.step());
            if (l2w == nullptr) return py::none();
            return py::cast(l2w->wpn()->parameters());
          });

  m.def(
      "_option_help",
      [](const std::string& kind) {
        if (kind == "data") return option_help(dataset::DataOptions::option_list(), dataset::DataOptions{});
        if (kind == "trainer") return option_help(train::TrainerOptions::option_list(), train::TrainerOptions{});
        if (kind == "optimizer") {
          auto out = option_help(train::SgdOptions::option_list(), train::SgdOptions{});
          out += option_help(train::LrSchedule::option_list(), train::LrSchedule{});
          return out;
        }
        if (kind == "method") return option_help(meta::MethodOptions::option_list(), meta::MethodOptions{});
        throw std::invalid_argument("kind: '" + kind + "' is not one of data, trainer, optimizer, method");
      },
      py::arg("kind"),
      "The options of `kind` (data, trainer, optimizer, method) as (name, type, default, help): what the "
      "docstrings list.");
  m.def(
      "_train",
      [](models::MultiExitNetwork net, const std::string& description, const std::string& imta_from, py::dict options,
         py::object on_iteration) {
        OptionReader in(options);
        dataset::DataOptions data_options;
        in.read(data_options, dataset::DataOptions::option_list());
        train::TrainerOptions trainer;
        in.read(trainer, train::TrainerOptions::option_list());
        auto method = method_options(in);
        in.check_all_read();
        auto o = train::complete_trainer_options(trainer, data_options.name, imta_from);
        method.amp(o.amp());
        if (!on_iteration.is_none()) {
          o.on_iteration([on_iteration](const train::IterationDone& done) {
            py::gil_scoped_acquire acquire;
            on_iteration(done.epoch, done.iteration, done.iterations, done.lr, done.images);
          });
        }
        const auto arch = models::options_from_description(description);
        train::TrainResult result;
        {
          py::gil_scoped_release release;
          const auto data = dataset::load_data(data_options);
          // Ctrl-C or SIGTERM: the iteration ends, its checkpoint is written, then KeyboardInterrupt.
          train::StopSignals stop_signals;
          result = train::Trainer(net, arch, data, o, meta::step_factory(method)).run();
        }
        py::dict out;
        out["test"] = metrics_list(result.last_test);
        py::list costs, points;
        for (const auto& c : result.costs) costs.append(py::make_tuple(c.muladds, c.params));
        for (const auto& p : result.dynamic) points.append(py::make_tuple(p.p_index, p.test.expected_muladds, p.test.accuracy));
        out["costs"] = costs;
        out["dynamic"] = points;
        out["best_prec1"] = result.best_prec1;
        out["epochs_run"] = result.epochs_run;
        return out;
      },
      py::arg("network"), py::arg("description"), py::arg("imta_from"), py::arg("options"), py::arg("on_iteration"));
}

}  // namespace l2w::python
