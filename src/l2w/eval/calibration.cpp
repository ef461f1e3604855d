#include "l2w/eval/calibration.h"

#include <cmath>
#include <cstdio>

namespace l2w::eval {

double negative_log_likelihood(const torch::Tensor& logits, const torch::Tensor& labels, double temperature) {
  const auto scaled = logits.to(torch::kFloat64) / temperature;
  return torch::nn::functional::cross_entropy(scaled, labels.to(torch::kLong)).item<double>();
}

double fit_temperature(const torch::Tensor& logits, const torch::Tensor& labels) {
  const auto z = logits.to(torch::kFloat64);
  const auto y = labels.to(torch::kLong);
  const auto loss = [&](double inverse) { return negative_log_likelihood(z, y, 1 / inverse); };
  const double golden = (std::sqrt(5.0) - 1) / 2;
  double lo = 1 / 20.0, hi = 1 / 0.05;
  double a = hi - golden * (hi - lo), b = lo + golden * (hi - lo);
  double fa = loss(a), fb = loss(b);
  while (hi - lo > 1e-6 * (lo + hi)) {
    if (fa < fb) {
      hi = b, b = a, fb = fa;
      a = hi - golden * (hi - lo);
      fa = loss(a);
    } else {
      lo = a, a = b, fa = fb;
      b = lo + golden * (hi - lo);
      fb = loss(b);
    }
  }
  return 2 / (lo + hi);
}

double expected_calibration_error(const torch::Tensor& probabilities, const torch::Tensor& labels, int bins) {
  const auto [confidence, prediction] = probabilities.to(torch::kFloat64).max(1);
  const auto correct = prediction.eq(labels.to(torch::kLong)).to(torch::kFloat64);
  const auto bin = (confidence * bins).floor().clamp(0, bins - 1).to(torch::kLong);
  const double n = static_cast<double>(labels.size(0));
  double ece = 0;
  for (int b = 0; b < bins; ++b) {
    const auto in = bin.eq(b);
    const double count = in.sum().item<double>();
    if (count == 0) continue;
    const double accuracy = correct.masked_select(in).mean().item<double>();
    const double mean_confidence = confidence.masked_select(in).mean().item<double>();
    ece += count / n * std::abs(accuracy - mean_confidence);
  }
  return ece;
}

ExitOutputs with_temperatures(const ExitOutputs& outputs, const std::vector<float>& temperatures) {
  ExitOutputs scaled{{}, outputs.labels};
  for (size_t k = 0; k < outputs.logits.size(); ++k)
    scaled.logits.push_back(temperatures[k] == 1 ? outputs.logits[k] : outputs.logits[k].to(torch::kFloat32) / temperatures[k]);
  return scaled;
}

std::vector<ExitCalibration> calibrate_exits(const ExitOutputs& valid, const ExitOutputs& test) {
  std::vector<ExitCalibration> out;
  for (size_t k = 0; k < valid.logits.size(); ++k) {
    ExitCalibration c;
    c.temperature = static_cast<float>(fit_temperature(valid.logits[k], valid.labels));
    const auto& logits = test.logits[k];
    c.ece_before = expected_calibration_error(torch::softmax(logits.to(torch::kFloat32), 1), test.labels);
    c.ece_after = expected_calibration_error(torch::softmax(logits.to(torch::kFloat32) / c.temperature, 1), test.labels);
    c.nll_before = negative_log_likelihood(logits, test.labels);
    c.nll_after = negative_log_likelihood(logits, test.labels, c.temperature);
    out.push_back(c);
  }
  return out;
}

std::vector<float> temperatures_of(const std::vector<ExitCalibration>& calibration) {
  std::vector<float> t;
  for (const auto& c : calibration) t.push_back(c.temperature);
  return t;
}

std::string calibration_table(const std::vector<ExitCalibration>& calibration) {
  std::string out = " exit  temperature   ECE % before  after   NLL before  after\n";
  char line[160];
  for (size_t k = 0; k < calibration.size(); ++k) {
    const auto& c = calibration[k];
    std::snprintf(line, sizeof line, "%5zu  %11.4f   %12.2f  %5.2f   %10.4f  %5.4f\n", k + 1, c.temperature,
                  100 * c.ece_before, 100 * c.ece_after, c.nll_before, c.nll_after);
    out += line;
  }
  return out;
}

}  // namespace l2w::eval
