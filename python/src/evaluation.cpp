// Evaluation on tensors: anytime metrics per exit, budgeted evaluation's curve (the 39 target exit
// distributions, thresholds from validation outputs), and the thresholds for a budget.
#include "bindings.h"

#include "l2w/eval/anytime.h"
#include "l2w/eval/dynamic.h"

namespace l2w::python {
namespace {

eval::ExitOutputs outputs(const std::vector<torch::Tensor>& logits, const torch::Tensor& labels) {
  if (logits.empty()) throw std::invalid_argument("logits: no exit");
  for (const auto& l : logits) {
    if (l.dim() != 2 || l.size(0) != labels.size(0))
      throw std::invalid_argument("logits: each exit's must be [N, classes] for the N labels");
  }
  std::vector<torch::Tensor> cpu;
  for (const auto& l : logits) cpu.push_back(l.detach().cpu());
  return {cpu, labels.cpu().to(torch::kLong)};
}

criterion::ExitCriterion criterion_named(const std::string& name) {
  const auto c = criterion::exit_criterion_from_name(name);
  if (!c) throw std::invalid_argument("criterion: '" + name + "' is not max-prob, entropy, margin or patience");
  return *c;
}

std::vector<nn::Cost> costs_of(const std::vector<int64_t>& exit_muladds) {
  std::vector<nn::Cost> costs;
  for (const auto m : exit_muladds) costs.push_back({m, 0});
  return costs;
}

}  // namespace

py::list metrics_list(const std::vector<eval::ExitMetrics>& metrics) {
  py::list out;
  for (const auto& m : metrics) {
    py::dict d;
    d["top1"] = m.top1, d["top5"] = m.top5, d["loss"] = m.loss;
    out.append(d);
  }
  return out;
}

py::dict thresholds_dict(const io::ExitThresholds& t) {
  py::dict out;
  out["thresholds"] = t.thresholds;
  out["criterion"] = criterion::exit_criterion_name(t.criterion);
  out["index"] = t.p_index;
  out["valid_accuracy"] = t.valid_accuracy;
  out["valid_muladds"] = t.valid_expected_muladds;
  out["temperatures"] = t.temperatures;
  out["exit_muladds"] = t.exit_muladds;
  out["precision"] = t.precision;
  return out;
}

void bind_evaluation(py::module_& m) {
  m.def(
      "_anytime",
      [](const std::vector<torch::Tensor>& logits, const torch::Tensor& labels) {
        return metrics_list(eval::anytime_metrics(outputs(logits, labels)));
      },
      py::arg("logits"), py::arg("labels"));
  m.def(
      "_budgeted",
      [](const std::vector<torch::Tensor>& valid_logits, const torch::Tensor& valid_labels,
         const std::vector<torch::Tensor>& test_logits, const torch::Tensor& test_labels,
         const std::vector<int64_t>& exit_muladds, const std::string& criterion) {
        const auto c = criterion_named(criterion);
        const auto points = eval::dynamic_sweep(eval::exit_confidences(outputs(valid_logits, valid_labels), c),
                                                eval::exit_confidences(outputs(test_logits, test_labels), c),
                                                costs_of(exit_muladds));
        std::vector<int64_t> index;
        std::vector<double> muladds, accuracy;
        std::vector<std::vector<int64_t>> counts;
        std::vector<std::vector<float>> thresholds;
        for (const auto& p : points) {
          index.push_back(p.p_index);
          muladds.push_back(p.test.expected_muladds);
          accuracy.push_back(p.test.accuracy);
          counts.push_back(p.test.exit_counts);
          thresholds.push_back(p.thresholds);
        }
        py::dict out;
        out["index"] = torch::tensor(index);
        out["muladds"] = torch::tensor(muladds, torch::kFloat64);
        out["accuracy"] = torch::tensor(accuracy, torch::kFloat64);
        out["exit_counts"] = counts;
        out["thresholds"] = thresholds;
        return out;
      },
      py::arg("valid_logits"), py::arg("valid_labels"), py::arg("test_logits"), py::arg("test_labels"),
      py::arg("exit_muladds"), py::arg("criterion"));
  m.def(
      "_thresholds_for_budget",
      [](const std::vector<torch::Tensor>& valid_logits, const torch::Tensor& valid_labels,
         const std::vector<int64_t>& exit_muladds, double budget_muladds, const std::string& criterion) {
        return thresholds_dict(eval::thresholds_for_budget(
            eval::exit_confidences(outputs(valid_logits, valid_labels), criterion_named(criterion)),
            costs_of(exit_muladds), budget_muladds));
      },
      py::arg("valid_logits"), py::arg("valid_labels"), py::arg("exit_muladds"), py::arg("budget_muladds"),
      py::arg("criterion"));
}

}  // namespace l2w::python
