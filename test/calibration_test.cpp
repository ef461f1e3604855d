#include <gtest/gtest.h>

#include "l2w/eval/calibration.h"

namespace l2w {
namespace {

TEST(Calibration, NegativeLogLikelihoodAndEceByHand) {
  const auto logits = torch::tensor({{2.0, 0.0}, {0.0, 1.0}}, torch::kFloat64);
  const auto labels = torch::tensor({0, 0}, torch::kLong);
  // -log(e^2 / (e^2 + 1)) and -log(1 / (1 + e)), averaged; at T = 2 the logits halve.
  EXPECT_NEAR(eval::negative_log_likelihood(logits, labels), (std::log1p(std::exp(-2.0)) + std::log1p(std::exp(1.0))) / 2, 1e-12);
  EXPECT_NEAR(eval::negative_log_likelihood(logits, labels, 2), (std::log1p(std::exp(-1.0)) + std::log1p(std::exp(0.5))) / 2, 1e-12);
  // Four images: top probabilities 0.95 (right) and 0.94 (wrong) in bin 14 of 15 (0-based); 0.55 (right)
  // and 0.5 (wrong) in bins 8 and 7. ECE = 2/4 |0.5 - 0.945| + 1/4 |1 - 0.55| + 1/4 |0 - 0.5|.
  const auto probs = torch::tensor({{0.95, 0.05}, {0.06, 0.94}, {0.55, 0.45}, {0.5, 0.5}}, torch::kFloat64);
  const auto truth = torch::tensor({0, 0, 0, 1}, torch::kLong);
  EXPECT_NEAR(eval::expected_calibration_error(probs, truth), 0.5 * 0.445 + 0.25 * 0.45 + 0.25 * 0.5, 1e-12);
}

TEST(Calibration, FittingRecoversAKnownTemperature) {
  torch::manual_seed(4);
  const auto logits = 3 * torch::randn({20000, 10}, torch::kFloat64);
  for (const double t : {0.5, 2.0}) {
    // Labels drawn from softmax(logits / t): the likelihood is largest at t.
    const auto labels = torch::multinomial(torch::softmax(logits / t, 1), 1).squeeze(1);
    EXPECT_NEAR(eval::fit_temperature(logits, labels), t, 0.04 * t);
    // Scaled by the fitted temperature, the model is calibrated: ECE near 0 and below the raw one.
    const double fitted = eval::fit_temperature(logits, labels);
    const double after = eval::expected_calibration_error(torch::softmax(logits / fitted, 1), labels);
    EXPECT_LT(after, 0.01);
    EXPECT_LT(after, eval::expected_calibration_error(torch::softmax(logits, 1), labels));
  }
}

TEST(Calibration, EachExitGetsItsOwnTemperature) {
  torch::manual_seed(6);
  eval::ExitOutputs valid, test;
  const auto z = 2 * torch::randn({10000, 5});
  valid.labels = torch::multinomial(torch::softmax(z.to(torch::kFloat64), 1), 1).squeeze(1);
  valid.logits = {z * 3, z, z / 2};  // over-, well and under-confident copies of the same model
  test = valid;
  const auto calibration = eval::calibrate_exits(valid, test);
  ASSERT_EQ(calibration.size(), 3u);
  EXPECT_NEAR(calibration[0].temperature, 3, 0.15);
  EXPECT_NEAR(calibration[1].temperature, 1, 0.05);
  EXPECT_NEAR(calibration[2].temperature, 0.5, 0.025);
  EXPECT_LT(calibration[0].nll_after, calibration[0].nll_before);
  EXPECT_LT(calibration[0].ece_after, calibration[0].ece_before);
  const auto scaled = eval::with_temperatures(valid, eval::temperatures_of(calibration));
  EXPECT_TRUE(torch::allclose(scaled.logits[0], valid.logits[0] / calibration[0].temperature));
}

}  // namespace
}  // namespace l2w
