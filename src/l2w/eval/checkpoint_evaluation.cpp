#include "l2w/eval/checkpoint_evaluation.h"

#include <cstdio>
#include <iostream>

#include "l2w/eval/calibration.h"
#include "l2w/eval/precision_comparison.h"
#include "l2w/eval/risk_control.h"
#include "l2w/io/exit_policy_file.h"
#include "l2w/io/numpy_file.h"
#include "l2w/io/thresholds_file.h"
#include "l2w/runtime/atomic_file.h"

namespace l2w::eval {

std::string eval_mode_name(EvalMode mode) {
  return mode == EvalMode::kAnytime ? "anytime" : mode == EvalMode::kDynamic ? "dynamic" : "both";
}

const options::OptionList<EvaluationOptions>& EvaluationOptions::option_list() {
  using namespace options;
  using E = EvaluationOptions;
  static const OptionList<E> list{
      choice<E>("evalmode", {"--evalmode"}, L2W_FIELD(mode),
                named({EvalMode::kAnytime, EvalMode::kDynamic, EvalMode::kBoth}, eval_mode_name), "what to evaluate")
          .in("eval"),
      switch_option<E>("save_probs", {"--save-probs", "--save_probs"}, L2W_FIELD(save_probs),
                       "write each exit's probabilities and the labels (valid and test) as .npy in the run folder")
          .in("eval"),
      value<E>("budget_muladds", {"--budget"}, L2W_FIELD(budget_muladds),
               "MUL-ADDs per image: write the thresholds that fit it", Check::kPositive)
          .in("eval"),
      value<E>("max_accuracy_drop", {"--max-accuracy-drop"}, L2W_FIELD(max_accuracy_drop),
               "write the cheapest thresholds whose accuracy lost against the last exit is at most this share (e.g. "
               "0.01) with probability risk_confidence (docs/exit_policies.md)",
               Check::kOpenUnitInterval)
          .in("eval"),
      value<E>("risk_confidence", {"--risk-confidence"}, L2W_FIELD(risk_confidence),
               "the probability the max_accuracy_drop guarantee holds with", Check::kOpenUnitInterval)
          .in("eval"),
      value<E>("thresholds", {"--thresholds"}, L2W_FIELD(thresholds), "thresholds file to write (default: RUN/thresholds.txt)")
          .in("eval"),
      runtime::precision_option<E>(L2W_FIELD(precision),
                                   "(default fp32: the trained network, as the paper's figures; otherwise the network "
                                   "as l2w infer and serve deploy it, compared with fp32)")
          .in("eval"),
      value<E>("onnx", {"--onnx"}, L2W_FIELD(onnx),
               "a folder l2w export wrote from the checkpoint: evaluate (and fit thresholds on) OpenVINO computing its "
               "stage graphs, as l2w infer --onnx deploys them, compared with fp32")
          .in("eval"),
      switch_option<E>("calibrate", {"--calibrate"}, L2W_FIELD(calibrate),
                       "fit a temperature per exit on the validation images: ECE and NLL before and after; budgeted "
                       "evaluation and the thresholds file use the calibrated exits")
          .in("eval"),
  };
  return list;
}

namespace {

void save_probabilities(const io::RunFolder& folder, const std::string& set, const ExitOutputs& outputs) {
  std::vector<torch::Tensor> probs;
  for (const auto& logits : outputs.logits) probs.push_back(torch::softmax(logits.to(torch::kFloat32), 1));
  io::write_npy(folder.probabilities(set), torch::stack(probs));
  io::write_npy(folder.labels(set), outputs.labels.to(torch::kInt64));
}

// Writes the thresholds that fit the budget and reports them on the validation and test sets.
void choose_thresholds(const EvaluationOptions& options, const io::RunFolder& folder, const ExitConfidences& valid,
                       const ExitConfidences& test, const std::vector<nn::Cost>& costs,
                       const std::string& valid_name, const std::vector<float>& temperatures,
                       const std::string& precision) {
  io::ExitThresholds chosen = thresholds_for_budget(valid, costs, options.budget_muladds());
  chosen.temperatures = temperatures;
  chosen.precision = precision;
  const auto path = options.thresholds().empty() ? folder.thresholds() : options.thresholds();
  io::write_thresholds(path, chosen);
  const auto on_test = evaluate_with_thresholds(test, chosen.thresholds, costs);
  std::printf("Thresholds for a budget of %.3f M MUL-ADDs (p_idx %lld): %s\n  %s: %.2f%% at %.3f M; test: %.2f%% at %.3f M\n",
              options.budget_muladds() / 1e6, static_cast<long long>(chosen.p_index), path.c_str(), valid_name.c_str(),
              chosen.valid_accuracy, chosen.valid_expected_muladds / 1e6, on_test.accuracy,
              on_test.expected_muladds / 1e6);
}

// Writes the cheapest thresholds whose accuracy lost against the last exit is bounded by
// max_accuracy_drop with risk_confidence, and reports them on the validation and test sets.
void choose_risk_controlled(const EvaluationOptions& options, const io::RunFolder& folder, const ExitConfidences& valid,
                            const ExitConfidences& test, const std::vector<nn::Cost>& costs,
                            const std::string& valid_name, const std::vector<float>& temperatures,
                            const std::string& precision) {
  RiskControlledChoice chosen =
      risk_controlled_thresholds(valid, costs, options.max_accuracy_drop(), options.risk_confidence());
  chosen.thresholds.temperatures = temperatures;
  chosen.thresholds.precision = precision;
  const auto path = options.thresholds().empty() ? folder.thresholds() : options.thresholds();
  io::write_thresholds(path, chosen.thresholds);
  const auto on_test = evaluate_with_thresholds(test, chosen.thresholds.thresholds, costs);
  const double test_last = 100.0 * test.correct[test.correct.size(0) - 1].to(torch::kFloat64).mean().item<double>();
  std::printf("Risk-controlled thresholds (at most %.2f points lost against the last exit with probability %.2f; "
              "p_idx %lld, 0: no early exit): %s\n"
              "  bound on the accuracy lost: %.3f points (%lld of %lld %s images harmed; Clopper-Pearson)\n"
              "  %s: %.2f%% at %.3f M (%.2f points lost); test: %.2f%% at %.3f M (%.2f points lost against %.2f%%)\n",
              100 * options.max_accuracy_drop(), options.risk_confidence(), static_cast<long long>(chosen.thresholds.p_index),
              path.c_str(), 100 * chosen.bound, static_cast<long long>(chosen.harmed),
              static_cast<long long>(valid.confidence.size(1)), valid_name.c_str(), valid_name.c_str(),
              chosen.thresholds.valid_accuracy, chosen.thresholds.valid_expected_muladds / 1e6, 100 * chosen.valid_drop,
              on_test.accuracy, on_test.expected_muladds / 1e6, test_last - on_test.accuracy, test_last);
}

// Budgeted evaluation, the saved probabilities and the thresholds for the budget, from the validation
// outputs; returns the sweep's points (none in anytime mode).
std::vector<DynamicPoint> evaluate_dynamic(const EvaluationOptions& options, const io::RunFolder& folder,
                                                 const ExitOutputs& valid_outputs, const ExitOutputs& test,
                                                 const std::vector<nn::Cost>& costs,
                                                 const std::vector<float>& temperatures,
                                                 const std::string& precision) {
  const auto valid = exit_confidences(valid_outputs, options.exit_criterion());
  const auto test_confidences = exit_confidences(test, options.exit_criterion());
  const std::string valid_name = options.held_out() ? "held-out" : "training";
  if (options.save_probs()) {
    save_probabilities(folder, "valid", valid_outputs);
    save_probabilities(folder, "test", test);
    std::cout << "Probabilities [exits, images, classes] and labels: " << folder.probabilities("{valid,test}")
              << ", " << folder.labels("{valid,test}") << std::endl;
  }
  std::vector<DynamicPoint> points;
  if (options.mode() != EvalMode::kAnytime) {
    points = dynamic_sweep(valid, test_confidences, costs);
    std::cout << "Budgeted batch classification (exit criterion " << criterion::exit_criterion_name(options.exit_criterion())
              << ", thresholds from " << valid_outputs.labels.size(0) << " " << valid_name << " images"
              << (options.exit_criterion() == criterion::ExitCriterion::kPatience ? "; p_idx is the patience" : "") << "):\n"
              << dynamic_table(points);
    write_dynamic(folder.dynamic(), points);
    io::write_exit_policy(folder.exit_policy(), {options.exit_criterion(), options.calibrate()});
  }
  if (options.budget_muladds() > 0)
    choose_thresholds(options, folder, valid, test_confidences, costs, valid_name, temperatures, precision);
  if (options.max_accuracy_drop() > 0)
    choose_risk_controlled(options, folder, valid, test_confidences, costs, valid_name, temperatures, precision);
  return points;
}

// Prints how the deployed network's outputs differ from the float32 reference's (budgets only with
// validation outputs of both) and writes the budgets' table to the run folder.
void report_precision_comparison(const ExitOutputs& reference_test, const ExitOutputs& test,
                                 const ExitOutputs* reference_valid_outputs, const ExitOutputs* valid,
                                 const std::vector<nn::Cost>& costs, const io::RunFolder& folder,
                                 const EvaluationOptions& options, const std::string& name) {
  ExitConfidences reference_valid, on_valid;
  if (reference_valid_outputs != nullptr && valid != nullptr) {
    reference_valid = exit_confidences(*reference_valid_outputs, options.exit_criterion());
    on_valid = exit_confidences(*valid, options.exit_criterion());
  }
  auto comparison = compare_precisions(reference_test, test, reference_valid, on_valid, options.exit_criterion(), costs);
  comparison.reference_name = "fp32", comparison.name = options.onnx().empty() ? name : "openvino_" + name;
  std::cout << comparison.name << " against fp32 (the trained network) on " << test.labels.size(0) << " test images:\n"
            << comparison_summary(comparison);
  if (!comparison.budgets.empty()) {
    runtime::write_file_atomically(folder.precision_comparison(), budget_comparison_table(comparison));
    std::cout << "  every budget: " << folder.precision_comparison() << "\n";
  }
}

}  // namespace

EvaluationReport evaluate_checkpoint(models::MultiExitNetworkImpl& net, const dataset::DataSplits& data,
                                     const std::vector<int64_t>& valid_subset, const std::vector<nn::Cost>& costs,
                                     const io::RunFolder& folder, const EvaluationOptions& options) {
  net.eval();
  return evaluate_checkpoint(network_logits(net), runtime::dtype_name(net.parameters().front().scalar_type()), data,
                             valid_subset, costs, folder, options);
}

EvaluationReport evaluate_checkpoint(const ExitLogits& logits_of, const std::string& precision,
                                     const dataset::DataSplits& data, const std::vector<int64_t>& valid_subset,
                                     const std::vector<nn::Cost>& costs, const io::RunFolder& folder,
                                     const EvaluationOptions& options, models::MultiExitNetworkImpl* fp32_reference) {
  dataset::BatchLoader loader(data.test, {}, options.loader());
  const auto test = collect_outputs(logits_of, loader, options.device(), options.amp());
  EvaluationReport report;
  report.anytime = anytime_metrics(test);
  if (options.mode() != EvalMode::kDynamic) {
    std::cout << "Anytime evaluation of " << options.checkpoint() << " (" << precision << ") on " << data.test->size()
              << " test images:\n"
              << anytime_table(report.anytime, costs);
    write_anytime_csv(folder.anytime(), report.anytime, costs);
  }
  const auto outputs_of = [&](const ExitLogits& network, dataset::BatchLoader& from) {
    return collect_outputs(network, from, options.device(), options.amp());
  };
  if (fp32_reference != nullptr) fp32_reference->eval();
  const auto reference = fp32_reference != nullptr ? network_logits(*fp32_reference) : ExitLogits();
  if (options.mode() == EvalMode::kAnytime && options.budget_muladds() <= 0 && options.max_accuracy_drop() <= 0 &&
      !options.save_probs() && !options.calibrate()) {
    if (fp32_reference != nullptr)
      report_precision_comparison(outputs_of(reference, loader), test, nullptr, nullptr, costs, folder, options,
                                  precision);
    return report;
  }
  dataset::BatchLoader valid_loader(data.train, valid_subset, options.loader());
  auto valid = outputs_of(logits_of, valid_loader);
  if (fp32_reference != nullptr) {
    const auto reference_valid = outputs_of(reference, valid_loader);
    report_precision_comparison(outputs_of(reference, loader), test, &reference_valid, &valid, costs, folder,
                                options, precision);
  }
  auto test_for_thresholds = test;
  std::vector<float> temperatures;
  if (options.calibrate()) {
    const auto calibration = calibrate_exits(valid, test);
    temperatures = temperatures_of(calibration);
    std::cout << "Calibration: a temperature per exit fitted on " << valid.labels.size(0)
              << " validation images; test ECE (15 bins) and NLL, before and after:\n"
              << calibration_table(calibration);
    valid = with_temperatures(valid, temperatures);
    test_for_thresholds = with_temperatures(test, temperatures);
  }
  report.dynamic = evaluate_dynamic(options, folder, valid, test_for_thresholds, costs, temperatures, precision);
  return report;
}

}  // namespace l2w::eval
