// What `l2w eval` does with a trained network (docs/algorithm.md, "Evaluation"): anytime evaluation of
// every exit on the test set; budgeted evaluation with thresholds chosen on the validation images;
// optionally a temperature per exit, the thresholds for a budget or for a bounded accuracy loss, and the
// exits' probabilities; each result printed and written to the run folder.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "l2w/criterion/exit_criterion.h"
#include "l2w/dataset/batch_loader.h"
#include "l2w/dataset/data_sets.h"
#include "l2w/eval/anytime.h"
#include "l2w/eval/dynamic.h"
#include "l2w/io/run_folder.h"
#include "l2w/runtime/mixed_precision.h"
#include "l2w/runtime/option_list.h"
#include "l2w/runtime/precision.h"

namespace l2w::eval {

enum class EvalMode { kAnytime, kDynamic, kBoth };
std::string eval_mode_name(EvalMode mode);  // "anytime", "dynamic", "both"

struct EvaluationOptions {
  TORCH_ARG(EvalMode, mode) = EvalMode::kAnytime;
  TORCH_ARG(criterion::ExitCriterion, exit_criterion) = criterion::ExitCriterion::kMaxProb;
  // > 0: write the thresholds whose expected MUL-ADDs per image fit this budget.
  TORCH_ARG(double, budget_muladds) = 0;
  // > 0: write the cheapest thresholds whose accuracy lost against the last exit is at most this share,
  // with probability risk_confidence (docs/exit_policies.md).
  TORCH_ARG(double, max_accuracy_drop) = 0;
  TORCH_ARG(double, risk_confidence) = 0.9;
  TORCH_ARG(std::string, thresholds);  // where to write them; empty: the run folder's thresholds.txt
  TORCH_ARG(bool, calibrate) = false;   // a temperature per exit, fitted on the validation images
  TORCH_ARG(bool, save_probs) = false;  // each exit's probabilities and the labels as .npy
  // The precision to evaluate the network in (runtime/precision.h), and an export folder whose stage graphs
  // OpenVINO computes (infer/openvino_stages.h): the caller deploys the network so.
  TORCH_ARG(runtime::Precision, precision) = runtime::Precision::kFp32;
  TORCH_ARG(std::string, onnx);
  // How the images are read and the network run; what the report calls the validation images.
  TORCH_ARG(dataset::LoaderOptions, loader);
  TORCH_ARG(torch::Device, device) = torch::kCPU;
  TORCH_ARG(runtime::Amp, amp) = runtime::Amp::kOff;
  TORCH_ARG(bool, held_out) = false;  // the validation images are held-out training images
  TORCH_ARG(std::string, checkpoint);  // named in the report

 public:
  // What a user sets (mode, thresholds, calibration, probabilities); the rest come from the run.
  static const options::OptionList<EvaluationOptions>& option_list();
};

struct EvaluationReport {
  std::vector<ExitMetrics> anytime;  // every exit on the test set
  std::vector<DynamicPoint> dynamic;  // budgeted evaluation (empty in anytime mode)
};

// Evaluates the network whose logits `logits_of` computes, in `precision` ("fp32", "bf16"), on `data`'s
// test set and, where the options need them, on the training images `valid_subset` (empty: all) as
// validation images; writes anytime.csv, dynamic.txt, exit_policy.txt, the thresholds (which record
// `precision`) and the probabilities into `folder`. OptionError naming the option a budget or accuracy
// drop cannot be met for. With an `fp32_reference` (the same trained network in float32, `logits_of`
// computing it as deployed: in another precision, or by another engine), the report also compares the
// two (eval/precision_comparison.h).
EvaluationReport evaluate_checkpoint(const ExitLogits& logits_of, const std::string& precision,
                                     const dataset::DataSplits& data, const std::vector<int64_t>& valid_subset,
                                     const std::vector<nn::Cost>& costs, const io::RunFolder& folder,
                                     const EvaluationOptions& options,
                                     models::MultiExitNetworkImpl* fp32_reference = nullptr);
// The trained network itself, in its weights' precision.
EvaluationReport evaluate_checkpoint(models::MultiExitNetworkImpl& net, const dataset::DataSplits& data,
                                     const std::vector<int64_t>& valid_subset, const std::vector<nn::Cost>& costs,
                                     const io::RunFolder& folder, const EvaluationOptions& options);

}  // namespace l2w::eval
