#include <set>

#include <gtest/gtest.h>

#include "l2w/eval/calibration.h"
#include "l2w/eval/dynamic.h"
#include "l2w/criterion/exit_allocation.h"
#include "l2w/infer/early_exit_classifier.h"
#include "l2w/nn/cost_meter.h"
#include "test_util.h"

namespace l2w {
namespace {

// A tiny MSDNet whose exits disagree in confidence enough for thresholds to spread samples over them.
models::MultiExitNetwork tiny_network() {
  torch::manual_seed(11);
  auto net = std::make_shared<models::MSDNetImpl>(test::tiny_msdnet());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.mul_(1.5);
  }
  net->eval();
  return net;
}

eval::ExitConfidences confidences_of(models::MultiExitNetworkImpl& net, const torch::Tensor& images,
                                     eval::ExitOutputs* outputs = nullptr,
                                     criterion::ExitCriterion by = criterion::ExitCriterion::kMaxProb) {
  torch::NoGradGuard no_grad;
  eval::ExitOutputs o{net.forward(images), torch::zeros({images.size(0)}, torch::kLong)};
  if (outputs) *outputs = o;
  return eval::exit_confidences(o, by);
}

// MUL-ADDs of the network without early exits: every block, the last exit's classifier only.
int64_t last_exit_only_muladds(models::MultiExitNetwork& net, const torch::Tensor& images) {
  nn::CostMeter meter;
  infer::EarlyExitClassifier(net, std::vector<float>(size_t(net->num_exits()), 0.0f)).classify_full(images);
  return meter.total().muladds;
}

// For every exit criterion: the engine takes the exits dynamic evaluation assigns.
TEST(EarlyExitClassifier, DecisionsEqualDynamicEvaluationWithTheSameThresholds) {
  for (const auto by : criterion::all_exit_criteria()) {
  SCOPED_TRACE(criterion::exit_criterion_name(by));
  auto net = tiny_network();
  const auto valid = torch::randn({96, 3, 32, 32});
  const auto test = torch::randn({80, 3, 32, 32});
  eval::ExitOutputs outputs;
  const auto test_conf = confidences_of(*net, test, &outputs, by);
  const bool patience = by == criterion::ExitCriterion::kPatience;
  for (int64_t p : {1, 15, 39}) {
    // Patience's candidates are the patiences 0, 1 and 2; the others', thresholds fitted to target shares.
    const auto thresholds =
        patience ? criterion::patience_thresholds(3, p / 15)
                 : eval::find_thresholds(confidences_of(*net, valid, nullptr, by).confidence,
                                         criterion::target_proportions(p, 3));
    const auto expected = eval::exit_of_each_sample(test_conf, thresholds);
    infer::EarlyExitClassifier engine(net, thresholds, torch::MemoryFormat::Contiguous, by);
    const auto decisions = engine.classify(test);
    std::vector<int64_t> used(3, 0);
    for (int64_t i = 0; i < test.size(0); ++i) {
      const int64_t k = decisions.exit_index[i].item<int64_t>();
      ASSERT_EQ(k, expected[i]) << "p_idx " << p << " sample " << i;
      EXPECT_EQ(decisions.prediction[i].item<int64_t>(), outputs.logits[k][i].argmax().item<int64_t>());
      EXPECT_NEAR(decisions.confidence[i].item<float>(), test_conf.confidence[k][i].item<float>(), 1e-6);
      ++used[k];
    }
    if (p == 15 && !patience) {
      // The sweep's middle spreads samples over every exit, so compaction really happened.
      for (int64_t k = 0; k < 3; ++k) EXPECT_GT(used[k], 0) << "exit " << k;
    }
    // One image at a time (a path of its own, without the batch's bookkeeping): the same decisions.
    for (int64_t i = 0; i < 24; ++i) {
      const auto one = engine.classify(test.slice(0, i, i + 1));
      ASSERT_EQ(one.exit_index.sizes(), torch::IntArrayRef({1}));
      EXPECT_EQ(one.exit_index.item<int64_t>(), decisions.exit_index[i].item<int64_t>()) << "sample " << i;
      EXPECT_EQ(one.prediction.item<int64_t>(), decisions.prediction[i].item<int64_t>()) << "sample " << i;
      EXPECT_NEAR(one.confidence.item<float>(), decisions.confidence[i].item<float>(), 1e-6) << "sample " << i;
    }
  }
  }
}

// Temperatures divide each exit's logits before the softmax, in the engine as in evaluation.
TEST(EarlyExitClassifier, CalibratedExitsEqualDynamicEvaluationOfTheScaledLogits) {
  auto net = tiny_network();
  const auto test = torch::randn({80, 3, 32, 32});
  const std::vector<float> temperatures{2.5f, 0.7f, 1.3f};
  eval::ExitOutputs outputs;
  confidences_of(*net, test, &outputs);
  const auto scaled = eval::exit_confidences(eval::with_temperatures(outputs, temperatures));
  const auto thresholds = eval::find_thresholds(scaled.confidence, criterion::target_proportions(15, 3));
  const auto expected = eval::exit_of_each_sample(scaled, thresholds);
  infer::EarlyExitClassifier engine(net, thresholds, torch::MemoryFormat::Contiguous, criterion::ExitCriterion::kMaxProb,
                                    temperatures);
  const auto decisions = engine.classify(test);
  std::set<int64_t> used;
  for (int64_t i = 0; i < test.size(0); ++i) {
    ASSERT_EQ(decisions.exit_index[i].item<int64_t>(), expected[i]) << "sample " << i;
    EXPECT_NEAR(decisions.confidence[i].item<float>(), scaled.confidence[expected[i]][i].item<float>(), 1e-6);
    used.insert(expected[i]);
  }
  EXPECT_GE(used.size(), 2u);
  EXPECT_THROW(infer::EarlyExitClassifier(net, thresholds, torch::MemoryFormat::Contiguous,
                                          criterion::ExitCriterion::kMaxProb, {1.0f}),
               std::invalid_argument);
}

TEST(EarlyExitClassifier, OneImageAtATimeAgreesWithTheBatch) {
  auto net = tiny_network();
  const auto images = torch::randn({12, 3, 32, 32});
  // Thresholds from other images, as deployment has them: a sample exactly at a threshold would be
  // decided by the last bit of its confidence, which batch size may change.
  const auto conf = confidences_of(*net, torch::randn({64, 3, 32, 32}));
  const auto thresholds = eval::find_thresholds(conf.confidence, criterion::target_proportions(20, 3));
  infer::EarlyExitClassifier engine(net, thresholds);
  const auto batch = engine.classify(images);
  for (int64_t i = 0; i < 12; ++i) {
    const auto single = engine.classify(images.slice(0, i, i + 1));
    EXPECT_EQ(single.exit_index.item<int64_t>(), batch.exit_index[i].item<int64_t>()) << i;
    EXPECT_EQ(single.prediction.item<int64_t>(), batch.prediction[i].item<int64_t>()) << i;
  }
}

TEST(EarlyExitClassifier, ExtremeThresholdsAndTheFullNetwork) {
  auto net = tiny_network();
  const auto images = torch::randn({10, 3, 32, 32});
  const float inf = std::numeric_limits<float>::infinity();
  infer::EarlyExitClassifier everyone_first(net, {-inf, -inf, -inf});
  EXPECT_TRUE(torch::equal(everyone_first.classify(images).exit_index, torch::zeros({10}, torch::kLong)));
  // Thresholds no max-prob reaches (above 1) before the last exit: the whole network in one pass, the
  // earlier exits not computed, and the last exit's decisions.
  for (const float never : {inf, 1.0001f, 1e8f}) {
    infer::EarlyExitClassifier nobody_early(net, {never, never, -inf});
    EXPECT_FALSE(nobody_early.exits_early());
    nobody_early.set_profiling(true);
    nn::CostMeter meter;
    const auto last = nobody_early.classify(images);
    EXPECT_EQ(meter.total().muladds, last_exit_only_muladds(net, images));
    EXPECT_TRUE(torch::equal(last.exit_index, torch::full({10}, 2, torch::kLong)));
    EXPECT_TRUE(torch::equal(last.prediction, nobody_early.classify_full(images)));
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose(last.confidence, std::get<0>(torch::softmax(net->forward(images).back(), 1).max(1))));
    EXPECT_GT(nobody_early.profile().blocks_s, 0.0);
  }
  EXPECT_TRUE(infer::EarlyExitClassifier(net, {1.0f, inf, -inf}).exits_early());  // a max-prob of 1 is reachable
  EXPECT_THROW(infer::EarlyExitClassifier(net, {0.5f, 0.5f}), std::invalid_argument);
}

// An exit whose threshold the criterion's scores cannot reach lets nobody leave: it is not computed, and
// the images take the exits they take when its threshold is +inf. Patience's score depends on every exit,
// so none is skipped.
TEST(EarlyExitClassifier, AnExitNoScoreReachesIsNotComputed) {
  auto net = tiny_network();
  const auto images = torch::randn({16, 3, 32, 32});
  const float inf = std::numeric_limits<float>::infinity();
  const auto conf = confidences_of(*net, torch::randn({64, 3, 32, 32}));
  const auto thresholds = eval::find_thresholds(conf.confidence, criterion::target_proportions(20, 3));
  const auto run = [&](std::vector<float> t, criterion::ExitCriterion by, int64_t* muladds) {
    nn::CostMeter meter;
    auto decisions = infer::EarlyExitClassifier(net, std::move(t), torch::MemoryFormat::Contiguous, by).classify(images);
    *muladds = meter.total().muladds;
    return decisions;
  };
  int64_t skipped = 0, computed = 0;
  const auto without_first = run({1.5f, thresholds[1], -inf}, criterion::ExitCriterion::kMaxProb, &skipped);
  const auto closed_first = run({inf, thresholds[1], -inf}, criterion::ExitCriterion::kMaxProb, &computed);
  EXPECT_TRUE(torch::equal(without_first.exit_index, closed_first.exit_index));
  EXPECT_TRUE(torch::equal(without_first.prediction, closed_first.prediction));
  EXPECT_GT(without_first.exit_index.eq(1).sum().item<int64_t>(), 0);  // exit 2 still decides
  EXPECT_EQ(skipped, computed);  // +inf is as unreachable as 1.5
  int64_t with_first = 0;
  run({0.999999f, thresholds[1], -inf}, criterion::ExitCriterion::kMaxProb, &with_first);
  EXPECT_GT(with_first, skipped);  // exit 1's classifier was computed for every image
  // Entropy's scores are at most 0: a threshold above 0 is never reached.
  int64_t entropy = 0, max_prob = 0;
  run({0.5f, -inf, -inf}, criterion::ExitCriterion::kEntropy, &entropy);
  run({inf, -inf, -inf}, criterion::ExitCriterion::kMaxProb, &max_prob);
  EXPECT_EQ(entropy, max_prob);
  run({-0.001f, -inf, -inf}, criterion::ExitCriterion::kEntropy, &entropy);
  EXPECT_GT(entropy, max_prob);
  int64_t patience = 0;
  const auto patient = run({5.0f, 5.0f, -inf}, criterion::ExitCriterion::kPatience, &patience);
  EXPECT_TRUE(torch::equal(patient.exit_index, torch::full({16}, 2, torch::kLong)));
  EXPECT_GT(patience, last_exit_only_muladds(net, images));
}

TEST(EarlyExitClassifier, CompactedBatchesArePaddedToFewSizes) {
  std::set<int64_t> sizes;
  for (int64_t n = 1; n <= 256; ++n) {
    const int64_t padded = infer::padded_batch_size(n);
    EXPECT_GE(padded, n);
    EXPECT_LE(2 * padded, 3 * n) << n;  // at most half as much again
    if (n > 32) {
      EXPECT_LT(padded - n, 16) << n;
    }
    sizes.insert(padded);
  }
  EXPECT_EQ(sizes, (std::set<int64_t>{1,   2,   3,   4,   6,   8,   12,  16,  24,  32,  48,  64,
                                      80,  96,  112, 128, 144, 160, 176, 192, 208, 224, 240, 256}));
  EXPECT_EQ(infer::padded_batch_size(257), 288);  // steps of 32 up to 512
  EXPECT_EQ(infer::padded_batch_size(1000), 1024);
}

TEST(EarlyExitClassifier, CompactionKeepsTheMemoryLayout) {
  torch::manual_seed(0);
  const auto rows = torch::tensor({3, 0, 5, 5}, torch::kLong);
  for (const auto format : {torch::MemoryFormat::Contiguous, torch::MemoryFormat::ChannelsLast}) {
    const auto batch = torch::randn({6, 5, 4, 3}).contiguous(format);
    const auto selected = infer::select_rows(batch, rows);
    EXPECT_TRUE(torch::equal(selected, batch.index_select(0, rows)));
    EXPECT_TRUE(selected.is_contiguous(format));
  }
  const auto vectors = torch::randn({6, 7});
  EXPECT_TRUE(torch::equal(infer::select_rows(vectors, rows), vectors.index_select(0, rows)));
}

}  // namespace
}  // namespace l2w
