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

template <class T>
std::vector<T> all_of(std::initializer_list<T> values) {
  return values;
}

// The method's options: --method and L2W's (or IMTA's distillation) flags, by the reference's names.
meta::MethodOptions method_options(OptionReader& in) {
  meta::MethodOptions o;
  in.read_choice("method", o.method(), all_of({meta::Method::kL2W, meta::Method::kPlain}), meta::method_name);
  auto& m = o.meta();
  in.read_choice("meta_grad", m.meta_grad(), all_of({meta::MetaGrad::kExact, meta::MetaGrad::kFiniteDifference}),
                 meta::meta_grad_name);
  in.read("meta_lr", m.meta_lr());
  in.read("meta_weight_decay", m.meta_weight_decay());
  in.read("meta_interval", m.meta_interval());
  in.read("target_p_index", m.target_p_index());
  in.read("label_smoothing", m.label_smoothing());
  in.read("fd_epsilon", m.fd_epsilon());
  in.read("epsilon", m.wpn().epsilon());
  in.read("meta_net_hidden_size", m.wpn().hidden_size());
  in.read("meta_net_num_layers", m.wpn().num_layers());
  in.read_choice("meta_net_input_type", m.wpn().input(),
                 all_of({meta::WpnInput::kLoss, meta::WpnInput::kConfidence, meta::WpnInput::kBoth}),
                 meta::wpn_input_name);
  in.read_choice("constraint_dimension", m.wpn().constraint(),
                 all_of({meta::Constraint::kRow, meta::Constraint::kCol, meta::Constraint::kMat}), meta::constraint_name);
  in.read("kd_temperature", o.distillation().temperature());
  in.read("kd_gamma", o.distillation().gamma());
  return o;
}

// The backbone's SGD and the learning-rate schedule.
void read_optimizer(OptionReader& in, train::SgdOptions& sgd, train::LrSchedule& schedule) {
  in.read("lr", sgd.lr());
  in.read("momentum", sgd.momentum());
  in.read("weight_decay", sgd.weight_decay());
  in.read("nesterov", sgd.nesterov());
  in.read_choice("lr_type", schedule.type, all_of({train::LrType::kCosine, train::LrType::kMultistep}),
                 train::lr_type_name);
  in.read("decay_rate", schedule.decay_rate);
  in.read("milestones", schedule.milestones);
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
             read_optimizer(in, o.sgd(), o.schedule());
             const auto method = method_options(in);
             in.check_all_read();
             o.schedule().epochs = epochs;
             o.schedule().iterations_per_epoch = iterations_per_epoch;
             if (o.schedule().type == train::LrType::kMultistep && o.schedule().milestones.empty())
               o.schedule().milestones = train::default_milestones("cifar10", epochs);
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
      "_train",
      [](models::MultiExitNetwork net, const std::string& description, const std::string& imta_from, py::dict options,
         py::object on_iteration) {
        OptionReader in(options);
        dataset::DataOptions data_options;
        in.read("data", data_options.name);
        in.read("data_url", data_options.root);
        in.read("train_limit", data_options.train_limit);
        in.read("test_limit", data_options.test_limit);
        train::TrainerOptions o;
        in.read("train_url", o.run_dir());
        in.read("epochs", o.epochs());
        in.read("batch_size", o.batch_size());
        in.read("seed", o.seed());
        in.read("print_freq", o.print_freq());
        in.read("workers", o.workers());
        in.read("use_valid", o.use_valid());
        in.read("num_sample_valid", o.num_sample_valid());
        in.read("resume", o.resume());
        in.read("finetune_from", o.finetune_from());
        in.read("save_every", o.save_every());
        read_optimizer(in, o.sgd(), o.schedule());
        const auto method = method_options(in);
        in.check_all_read();
        train::check_sgd_options(o.sgd());
        o.schedule().base_lr = o.sgd().lr();
        if (o.schedule().milestones.empty()) o.schedule().milestones = train::default_milestones(data_options.name, o.epochs());
        // IMTA's second stage chooses thresholds on its first stage's held-out images, as `l2w train` does.
        if (!imta_from.empty()) o.adopt_valid_index(io::run_folder_of_checkpoint(imta_from).valid_index());
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
