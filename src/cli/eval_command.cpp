#include <cstdio>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "l2w/dataset/validation_split.h"
#include "l2w/eval/calibration.h"
#include "l2w/eval/dynamic.h"
#include "l2w/eval/risk_control.h"
#include "l2w/io/exit_policy_file.h"
#include "l2w/io/numpy_file.h"
#include "l2w/models/exit_cost.h"

namespace l2w::cli {
namespace {

void save_probabilities(const io::RunFolder& folder, const std::string& set, const eval::ExitOutputs& outputs) {
  std::vector<torch::Tensor> probs;
  for (const auto& logits : outputs.logits) probs.push_back(torch::softmax(logits.to(torch::kFloat32), 1));
  io::write_npy(folder.probabilities(set), torch::stack(probs));
  io::write_npy(folder.labels(set), outputs.labels.to(torch::kInt64));
}

// Writes the thresholds that fit --budget and reports them on the validation and test sets.
void choose_thresholds(const Flags& flags, const io::RunFolder& folder, const eval::ExitConfidences& valid,
                       const eval::ExitConfidences& test, const std::vector<nn::Cost>& costs,
                       const std::string& valid_name, const std::vector<float>& temperatures) {
  io::ExitThresholds chosen;
  try {
    chosen = eval::thresholds_for_budget(valid, costs, flags.budget);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
  chosen.temperatures = temperatures;
  const auto path = flags.thresholds.empty() ? folder.thresholds() : flags.thresholds;
  io::write_thresholds(path, chosen);
  const auto on_test = eval::evaluate_with_thresholds(test, chosen.thresholds, costs);
  std::printf("Thresholds for a budget of %.3f M MUL-ADDs (p_idx %lld): %s\n  %s: %.2f%% at %.3f M; test: %.2f%% at %.3f M\n",
              flags.budget / 1e6, static_cast<long long>(chosen.p_index), path.c_str(), valid_name.c_str(),
              chosen.valid_accuracy, chosen.valid_expected_muladds / 1e6, on_test.accuracy,
              on_test.expected_muladds / 1e6);
}

// Writes the cheapest thresholds whose accuracy lost against the last exit is bounded by
// --max-accuracy-drop with --risk-confidence, and reports them on the validation and test sets.
void choose_risk_controlled(const Flags& flags, const io::RunFolder& folder, const eval::ExitConfidences& valid,
                            const eval::ExitConfidences& test, const std::vector<nn::Cost>& costs,
                            const std::string& valid_name, const std::vector<float>& temperatures) {
  eval::RiskControlledChoice chosen;
  try {
    chosen = eval::risk_controlled_thresholds(valid, costs, flags.max_accuracy_drop, flags.risk_confidence);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
  chosen.thresholds.temperatures = temperatures;
  const auto path = flags.thresholds.empty() ? folder.thresholds() : flags.thresholds;
  io::write_thresholds(path, chosen.thresholds);
  const auto on_test = eval::evaluate_with_thresholds(test, chosen.thresholds.thresholds, costs);
  const double test_last = 100.0 * test.correct[test.correct.size(0) - 1].to(torch::kFloat64).mean().item<double>();
  std::printf("Risk-controlled thresholds (at most %.2f points lost against the last exit with probability %.2f; "
              "p_idx %lld, 0: no early exit): %s\n"
              "  bound on the accuracy lost: %.3f points (%lld of %lld %s images harmed; Clopper-Pearson)\n"
              "  %s: %.2f%% at %.3f M (%.2f points lost); test: %.2f%% at %.3f M (%.2f points lost against %.2f%%)\n",
              100 * flags.max_accuracy_drop, flags.risk_confidence, static_cast<long long>(chosen.thresholds.p_index),
              path.c_str(), 100 * chosen.bound, static_cast<long long>(chosen.harmed),
              static_cast<long long>(valid.confidence.size(1)), valid_name.c_str(), valid_name.c_str(),
              chosen.thresholds.valid_accuracy, chosen.thresholds.valid_expected_muladds / 1e6, 100 * chosen.valid_drop,
              on_test.accuracy, on_test.expected_muladds / 1e6, test_last - on_test.accuracy, test_last);
}

// Budgeted evaluation, the saved probabilities and the thresholds for --budget, from the validation
// outputs; returns the sweep's points (none unless --evalmode dynamic or both).
std::vector<eval::DynamicPoint> evaluate_dynamic(const Flags& flags, const io::RunFolder& folder,
                                                 const eval::ExitOutputs& valid_outputs, const eval::ExitOutputs& test,
                                                 const std::vector<nn::Cost>& costs,
                                                 const std::vector<float>& temperatures) {
  const auto valid = eval::exit_confidences(valid_outputs, flags.exit_criterion);
  const auto test_confidences = eval::exit_confidences(test, flags.exit_criterion);
  const std::string valid_name = flags.run.use_valid() ? "held-out" : "training";
  if (flags.save_probs) {
    save_probabilities(folder, "valid", valid_outputs);
    save_probabilities(folder, "test", test);
    std::cout << "Probabilities [exits, images, classes] and labels: " << folder.probabilities("{valid,test}")
              << ", " << folder.labels("{valid,test}") << std::endl;
  }
  std::vector<eval::DynamicPoint> points;
  if (flags.evalmode != EvalMode::kAnytime) {
    points = eval::dynamic_sweep(valid, test_confidences, costs);
    std::cout << "Budgeted batch classification (exit criterion " << criterion::exit_criterion_name(flags.exit_criterion)
              << ", thresholds from " << valid_outputs.labels.size(0) << " " << valid_name << " images"
              << (flags.exit_criterion == criterion::ExitCriterion::kPatience ? "; p_idx is the patience" : "") << "):\n"
              << eval::dynamic_table(points);
    eval::write_dynamic(folder.dynamic(), points);
    io::write_exit_policy(folder.exit_policy(), {flags.exit_criterion, flags.calibrate});
  }
  if (flags.budget > 0) choose_thresholds(flags, folder, valid, test_confidences, costs, valid_name, temperatures);
  if (flags.max_accuracy_drop > 0)
    choose_risk_controlled(flags, folder, valid, test_confidences, costs, valid_name, temperatures);
  return points;
}

}  // namespace

int eval_command(const Flags& flags) {
  const torch::Device device = setup_runtime(flags);
  const auto data = dataset::load_data(data_options(flags));
  const auto geometry = data_geometry(flags, data);
  const auto options = network_options(flags, geometry);
  auto net = load_trained_network(flags, options);
  net->to(device);
  const auto loader_options = dataset::LoaderOptions()
                                  .batch_size(std::max<int64_t>(flags.run.batch_size(), 256))
                                  .workers(flags.run.workers())
                                  .skip_bad_images(flags.run.skip_bad_images())
                                  .pin_memory(device.is_cuda());
  const auto amp = flags.run.amp();
  const auto costs = models::exit_costs(*net, {geometry.channels, geometry.height, geometry.width});
  dataset::BatchLoader loader(data.test, {}, loader_options);
  const auto test = eval::collect_outputs(*net, loader, device, amp);
  const io::RunFolder folder = io::RunFolder(flags.run.run_dir()).create();
  const auto metrics = eval::anytime_metrics(test);
  if (flags.evalmode != EvalMode::kDynamic) {
    std::cout << "Anytime evaluation of " << flags.evaluate_from << " on " << data.test->size() << " test images:\n"
              << eval::anytime_table(metrics, costs);
    eval::write_anytime_csv(folder.anytime(), metrics, costs);
  }
  std::vector<eval::DynamicPoint> points;
  if (flags.evalmode != EvalMode::kAnytime || flags.budget > 0 || flags.max_accuracy_drop > 0 || flags.save_probs ||
      flags.calibrate) {
    dataset::BatchLoader valid_loader(data.train, validation_subset(flags, folder, data.train->size()), loader_options);
    auto valid = eval::collect_outputs(*net, valid_loader, device, amp);
    auto test_for_thresholds = test;
    std::vector<float> temperatures;
    if (flags.calibrate) {
      const auto calibration = eval::calibrate_exits(valid, test);
      temperatures = eval::temperatures_of(calibration);
      std::cout << "Calibration: a temperature per exit fitted on " << valid.labels.size(0)
                << " validation images; test ECE (15 bins) and NLL, before and after:\n"
                << eval::calibration_table(calibration);
      valid = eval::with_temperatures(valid, temperatures);
      test_for_thresholds = eval::with_temperatures(test, temperatures);
    }
    points = evaluate_dynamic(flags, folder, valid, test_for_thresholds, costs, temperatures);
  }
  plot_run(folder.dir(), report::make_run_curve(report::run_label(folder.dir()), metrics, costs, points));
  return 0;
}

}  // namespace l2w::cli
