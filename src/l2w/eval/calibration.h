// Calibrated exits (docs/exit_policies.md, "Calibration"): one temperature per exit, fitted on the
// validation images by minimum negative log-likelihood (temperature scaling), so that an exit's softmax
// confidence means what it says; and the measures that show it, expected calibration error and
// negative log-likelihood.
#pragma once

#include <string>
#include <vector>

#include "l2w/eval/anytime.h"

namespace l2w::eval {

// Mean negative log-likelihood (nats) of softmax(logits / temperature) at the labels, in float64.
double negative_log_likelihood(const torch::Tensor& logits, const torch::Tensor& labels, double temperature = 1);

// The temperature T in [0.05, 20] minimising negative_log_likelihood(logits, labels, T). The loss is
// convex in 1/T, so a golden-section search on 1/T finds it (to 1e-6 relative).
double fit_temperature(const torch::Tensor& logits, const torch::Tensor& labels);

// Expected calibration error of softmax probabilities [N, C] (a share, 0..1): the images binned by their
// top probability into `bins` equal-width bins, the bins' |accuracy - mean confidence| weighted by
// their share of the images.
double expected_calibration_error(const torch::Tensor& probabilities, const torch::Tensor& labels, int bins = 15);

// Every exit's logits divided by its temperature.
ExitOutputs with_temperatures(const ExitOutputs& outputs, const std::vector<float>& temperatures);

struct ExitCalibration {
  float temperature = 1;
  double ece_before = 0, ece_after = 0;  // on the evaluated images
  double nll_before = 0, nll_after = 0;
};

// Temperatures fitted on `valid`, and each exit's ECE and NLL on `test` before and after.
std::vector<ExitCalibration> calibrate_exits(const ExitOutputs& valid, const ExitOutputs& test);
std::vector<float> temperatures_of(const std::vector<ExitCalibration>& calibration);
// The per-exit table a person reads: exit, temperature, ECE and NLL before and after.
std::string calibration_table(const std::vector<ExitCalibration>& calibration);

}  // namespace l2w::eval
