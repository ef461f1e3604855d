#include <cmath>

#include <gtest/gtest.h>

#include "l2w/criterion/exit_criterion.h"
#include "l2w/eval/dynamic.h"

namespace l2w {
namespace {

using criterion::ExitCriterion;

const torch::Tensor kProbabilities = torch::tensor({0.7f, 0.2f, 0.1f, 0.4f, 0.4f, 0.2f, 1.0f, 0.0f, 0.0f}).view({3, 3});

TEST(ExitCriterion, EachScoreAgainstAHandComputedExample) {
  const auto max_prob = criterion::exit_score(kProbabilities, ExitCriterion::kMaxProb);
  EXPECT_TRUE(torch::equal(max_prob, torch::tensor({0.7f, 0.4f, 1.0f})));
  const auto margin = criterion::exit_score(kProbabilities, ExitCriterion::kMargin);
  EXPECT_TRUE(torch::allclose(margin, torch::tensor({0.5f, 0.0f, 1.0f}), 0, 1e-6));
  // Σ p·ln p: 0.7 ln 0.7 + 0.2 ln 0.2 + 0.1 ln 0.1, 2·0.4 ln 0.4 + 0.2 ln 0.2, and 0 for a certain sample.
  const auto entropy = criterion::exit_score(kProbabilities, ExitCriterion::kEntropy);
  const double first = 0.7 * std::log(0.7) + 0.2 * std::log(0.2) + 0.1 * std::log(0.1);
  const double second = 0.8 * std::log(0.4) + 0.2 * std::log(0.2);
  EXPECT_NEAR(entropy[0].item<float>(), first, 1e-6);
  EXPECT_NEAR(entropy[1].item<float>(), second, 1e-6);
  EXPECT_EQ(entropy[2].item<float>(), 0.0f);  // no NaN from 0·log 0
  EXPECT_NEAR(first, -0.801819, 1e-6);
}

TEST(ExitCriterion, NamesRoundTripAndUnknownOnesAreNot) {
  for (const auto c : criterion::all_exit_criteria())
    EXPECT_EQ(criterion::exit_criterion_from_name(criterion::exit_criterion_name(c)), c);
  EXPECT_EQ(criterion::exit_criterion_name(ExitCriterion::kMaxProb), "max-prob");
  EXPECT_FALSE(criterion::exit_criterion_from_name("patience-2").has_value());
  EXPECT_FALSE(criterion::exit_criterion_from_name("Max-Prob").has_value());
}

// Max-prob's confidences are exactly the reference's: float32 softmax, then the largest.
TEST(ExitCriterion, MaxProbConfidencesAreTheReferencesToTheBit) {
  torch::manual_seed(0);
  eval::ExitOutputs outputs{{torch::randn({50, 10}) * 3, torch::randn({50, 10})}, torch::randint(10, {50}, torch::kLong)};
  const auto conf = eval::exit_confidences(outputs);
  for (size_t k = 0; k < 2; ++k)
    EXPECT_TRUE(torch::equal(conf.confidence[k], std::get<0>(torch::softmax(outputs.logits[k], 1).max(1))));
  EXPECT_EQ(conf.criterion, ExitCriterion::kMaxProb);
  // Another criterion changes the scores, not which predictions are right.
  const auto by_margin = eval::exit_confidences(outputs, ExitCriterion::kMargin);
  EXPECT_TRUE(torch::equal(by_margin.correct, conf.correct));
  EXPECT_FALSE(torch::equal(by_margin.confidence, conf.confidence));
  EXPECT_EQ(by_margin.criterion, ExitCriterion::kMargin);
}

// Patience: how many exits in a row agreed before, and where each image leaves at patience 1 and 2.
TEST(ExitCriterion, PatienceAgainstAHandComputedExample) {
  // Four exits' predictions for three images: 1 1 1 1, 0 2 2 0, 3 3 0 0.
  const int64_t predictions[4][3] = {{1, 0, 3}, {1, 2, 3}, {1, 2, 0}, {1, 0, 0}};
  eval::ExitOutputs outputs;
  for (const auto& row : predictions) {
    auto logits = torch::zeros({3, 4});
    for (int64_t i = 0; i < 3; ++i) logits[i][row[i]] = 5.0f;
    outputs.logits.push_back(logits);
  }
  outputs.labels = torch::tensor({1, 0, 0}, torch::kLong);
  const auto scores = eval::exit_confidences(outputs, ExitCriterion::kPatience);
  EXPECT_TRUE(torch::equal(scores.confidence,
                           torch::tensor({0.f, 0.f, 0.f, 1.f, 0.f, 1.f, 2.f, 1.f, 0.f, 3.f, 0.f, 1.f}).view({4, 3})));
  EXPECT_EQ(eval::exit_of_each_sample(scores, criterion::patience_thresholds(4, 1)), (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(eval::exit_of_each_sample(scores, criterion::patience_thresholds(4, 2)), (std::vector<int64_t>{2, 3, 3}));
  EXPECT_EQ(eval::exit_of_each_sample(scores, criterion::patience_thresholds(4, 0)), (std::vector<int64_t>{0, 0, 0}));
  // The candidates are the patiences 0..K-1, and a point's index is its patience.
  const auto candidates = eval::candidate_thresholds(scores);
  ASSERT_EQ(candidates.size(), 4u);
  EXPECT_EQ(candidates[2], criterion::patience_thresholds(4, 2));
  EXPECT_EQ(eval::candidate_index(scores.criterion, 2), 2);
  EXPECT_THROW(criterion::exit_score(torch::ones({1, 2}), ExitCriterion::kPatience), std::invalid_argument);
}

}  // namespace
}  // namespace l2w
