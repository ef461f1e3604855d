#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>

#include "l2w/eval/risk_control.h"

namespace l2w {
namespace {

// P(Binomial(n, p) <= k), by a direct sum of products (no logarithms).
double binomial_cdf_direct(int64_t k, int64_t n, double p) {
  double sum = 0;
  for (int64_t i = 0; i <= k; ++i) {
    double term = 1;
    for (int64_t j = 0; j < i; ++j) term *= static_cast<double>(n - j) / static_cast<double>(j + 1) * p;
    for (int64_t j = i; j < n; ++j) term *= 1 - p;
    sum += term;
  }
  return sum;
}

TEST(RiskControl, ClopperPearsonUpperBound) {
  // No failure: the bound solves (1 - p)^n = 1 - confidence.
  EXPECT_NEAR(eval::binomial_upper_bound(0, 3000, 0.9), 1 - std::pow(0.1, 1.0 / 3000), 1e-12);
  // Otherwise the bound is where the binomial's CDF at k falls to 1 - confidence.
  for (const auto& [k, n, c] : std::vector<std::tuple<int64_t, int64_t, double>>{{1, 10, 0.95}, {3, 20, 0.9}, {7, 40, 0.8}}) {
    const double p = eval::binomial_upper_bound(k, n, c);
    EXPECT_NEAR(binomial_cdf_direct(k, n, p), 1 - c, 1e-9) << k << "/" << n;
    EXPECT_GT(p, static_cast<double>(k) / n);
  }
  EXPECT_NEAR(eval::binomial_upper_bound(1, 10, 0.95), 0.3942, 1e-4);  // the textbook value
  EXPECT_EQ(eval::binomial_upper_bound(5, 5, 0.9), 1);
}

// Samples from one population: a difficulty u ~ U(0, 1); exit k is right when u < accuracy[k] (so an image
// right early is right later) and is more confident the easier the image, with noise.
eval::ExitConfidences population_sample(int64_t n, torch::Generator& g) {
  const auto u = torch::rand({n}, g);
  const auto accuracy = torch::tensor({0.6f, 0.75f, 0.85f}).unsqueeze(1);
  eval::ExitConfidences c;
  c.correct = u.unsqueeze(0).lt(accuracy);
  c.confidence = torch::sigmoid(6 * (accuracy - u.unsqueeze(0))) + 0.1 * torch::randn({3, n}, g);
  return c;
}

TEST(RiskControl, TheBoundHoldsOverRandomSplitsAndIsNotVacuous) {
  const std::vector<nn::Cost> costs{{100, 0}, {200, 0}, {300, 0}};
  const double max_drop = 0.04, confidence = 0.8;
  auto g = at::make_generator<at::CPUGeneratorImpl>(17);
  int exceeded = 0, early = 0;
  const int trials = 100;
  for (int trial = 0; trial < trials; ++trial) {
    const auto valid = population_sample(400, g);
    const auto test = population_sample(20000, g);
    const auto chosen = eval::risk_controlled_thresholds(valid, costs, max_drop, confidence);
    EXPECT_LE(chosen.bound, max_drop);
    const auto result = eval::evaluate_with_thresholds(test, chosen.thresholds.thresholds, costs);
    const double last = test.correct[2].to(torch::kFloat64).mean().item<double>();
    exceeded += last - result.accuracy / 100 > max_drop;
    early += chosen.thresholds.valid_expected_muladds < 300;
  }
  std::printf("drop above %.2f on the test images in %d of %d splits; early exits chosen in %d\n", max_drop, exceeded,
              trials, early);
  // At most 1 - confidence of the splits may exceed the drop (20 of 100; 30 allows for the draw).
  EXPECT_LE(exceeded, 30);
  EXPECT_GE(early, trials / 2) << "the guarantee should come with early exits, not only without";
}

TEST(RiskControl, RefusesWhenEvenNoEarlyExitCannotBeBounded) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto valid = population_sample(20, g);
  try {
    eval::risk_controlled_thresholds(valid, {{1, 0}, {2, 0}, {3, 0}}, 0.01, 0.9);
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no threshold set qualifies; even without early exits the bound is 0.1087"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace l2w
