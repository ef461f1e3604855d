#include <set>

#include <gtest/gtest.h>

#include "l2w/eval/dynamic.h"
#include "l2w/infer/early_exit_classifier.h"
#include "l2w/models/exit_cost.h"
#include "l2w/io/state_dict.h"
#include "l2w/models/imta_network.h"
#include "l2w/train/distillation_step.h"
#include "test_util.h"

namespace l2w {
namespace {

models::ImtaNetwork imta_on_tiny_msdnet() {
  torch::manual_seed(8);
  auto backbone = std::make_shared<models::MSDNetImpl>(test::tiny_msdnet(3, 10));
  return models::ImtaNetwork(backbone, 10);
}

TEST(ImtaNetwork, HeadsCollaborateInlineAndTheirCostIsCounted) {
  auto imta = imta_on_tiny_msdnet();
  imta->eval();
  const auto logits = imta->forward(torch::randn({4, 3, 32, 32}));
  ASSERT_EQ(logits.size(), 3u);
  for (const auto& l : logits) EXPECT_EQ(l.sizes(), (std::vector<int64_t>{4, 10}));
  // Head k > 0 reads 2w features: its own w and the ISC module's w from head k-1's 10 logits.
  const int64_t w = imta->backbone()->exit_feature_width(1);
  EXPECT_EQ(w, 128);
  const auto head_costs = models::exit_costs(*imta, {3, 32, 32});
  const auto backbone_costs = models::exit_costs(*imta->backbone(), {3, 32, 32});
  // Per later exit: a head Linear(2w, 10) instead of Linear(w, 10), an ISC Linear(10, w) and a ReLU on w.
  for (int64_t k = 0; k < 3; ++k)
    EXPECT_EQ(head_costs[k].muladds - backbone_costs[k].muladds, k * (2 * w * 10 + 2 * w)) << "exit " << k + 1;
  // Not detached: the last exit's loss reaches the first head through the ISC chain.
  imta->train();
  const auto train_logits = imta->forward(torch::randn({4, 3, 32, 32}));
  train_logits[2].sum().backward();
  EXPECT_TRUE(imta->named_parameters()["classifier.0.weight"].grad().defined());
}

// IMTA's code puts the whole model in training mode: the frozen backbone normalises with each batch's
// statistics and its running statistics move as a training-mode forward moves them, while its parameters
// stay fixed; the teacher is the training-mode backbone's last exit.
TEST(ImtaNetwork, SecondStageStepsMoveTheBackboneStatisticsAsIMTAsCodeDoes) {
  auto imta = imta_on_tiny_msdnet();
  imta->train();
  ASSERT_TRUE(imta->backbone()->is_training());
  models::MSDNet alone(test::tiny_msdnet(3, 10));  // the backbone by itself, in training mode
  io::load_state_dict(*alone, io::state_dict(*imta->backbone()), "copy");
  alone->train();
  std::map<std::string, torch::Tensor> parameters, buffers;
  for (const auto& item : imta->backbone()->named_parameters()) parameters[item.key()] = item.value().clone();
  for (const auto& item : imta->backbone()->named_buffers()) buffers[item.key()] = item.value().clone();
  train::Sgd sgd(imta->parameters(), train::SgdOptions().lr(0.1).momentum(0.9).weight_decay(1e-4));
  train::DistillationStep step(*imta, sgd, criterion::DistillationOptions());
  for (int i = 0; i < 3; ++i) {
    const auto x = torch::randn({8, 3, 32, 32});
    step.run(x, torch::randint(10, {8}, torch::kLong), {i, 1.0});
    torch::NoGradGuard no_grad;
    const auto teacher = alone->forward(x).back();
    EXPECT_TRUE(torch::equal(imta->teacher_logits(), teacher)) << "step " << i;
    const auto expected = io::state_dict(*alone);
    for (const auto& item : imta->backbone()->named_buffers())
      EXPECT_TRUE(torch::equal(item.value(), expected[item.key()])) << item.key() << ", step " << i;
  }
  for (const auto& item : imta->backbone()->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), parameters[item.key()])) << item.key();
  size_t moved = 0;
  for (const auto& item : imta->backbone()->named_buffers()) moved += !torch::equal(item.value(), buffers[item.key()]);
  EXPECT_GT(moved, 0u);
  imta->eval();
  EXPECT_FALSE(imta->backbone()->is_training());
}

// --imta-freeze-backbone-bn: the backbone stays in eval mode, parameters and buffers bit-identical.
TEST(ImtaNetwork, FrozenStatisticsLeaveTheBackboneBitIdentical) {
  auto imta = imta_on_tiny_msdnet();
  imta->freeze_backbone_statistics(true);
  imta->train();
  ASSERT_FALSE(imta->backbone()->is_training());
  std::map<std::string, torch::Tensor> before;
  for (const auto& item : imta->backbone()->named_parameters()) before[item.key()] = item.value().clone();
  for (const auto& item : imta->backbone()->named_buffers()) before[item.key()] = item.value().clone();
  const auto head_before = imta->named_parameters()["classifier.1.weight"].clone();
  train::Sgd sgd(imta->parameters(), train::SgdOptions().lr(0.1).momentum(0.9).weight_decay(1e-4));
  train::DistillationStep step(*imta, sgd, criterion::DistillationOptions());
  for (int i = 0; i < 3; ++i) step.run(torch::randn({8, 3, 32, 32}), torch::randint(10, {8}, torch::kLong), {i, 1.0});
  for (const auto& item : imta->backbone()->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), before[item.key()])) << item.key();
  for (const auto& item : imta->backbone()->named_buffers())
    EXPECT_TRUE(torch::equal(item.value(), before[item.key()])) << item.key();
  EXPECT_FALSE(torch::equal(imta->named_parameters()["classifier.1.weight"], head_before));
  EXPECT_TRUE(imta->teacher_logits().defined());
}

// Early-exit inference compacts the heads' carried logits with the features: its exits are dynamic
// evaluation's.
TEST(ImtaNetwork, EarlyExitInferenceEqualsDynamicEvaluation) {
  auto imta = imta_on_tiny_msdnet();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : imta->parameters()) p.mul_(1.5);
  }
  imta->eval();
  const auto test = torch::randn({64, 3, 32, 32});
  eval::ExitOutputs outputs;
  {
    torch::NoGradGuard no_grad;
    outputs = {imta->forward(test), torch::zeros({64}, torch::kLong)};
  }
  const auto confidences = eval::exit_confidences(outputs);
  const auto thresholds = eval::find_thresholds(confidences.confidence, {0.4f, 0.3f, 0.3f});
  const auto expected = eval::exit_of_each_sample(confidences, thresholds);
  infer::EarlyExitClassifier engine(imta.ptr(), thresholds);
  const auto decisions = engine.classify(test);
  std::set<int64_t> used;
  for (int64_t i = 0; i < 64; ++i) {
    ASSERT_EQ(decisions.exit_index[i].item<int64_t>(), expected[i]) << "sample " << i;
    EXPECT_EQ(decisions.prediction[i].item<int64_t>(), outputs.logits[expected[i]][i].argmax().item<int64_t>());
    used.insert(expected[i]);
  }
  EXPECT_EQ(used.size(), 3u);
}

}  // namespace
}  // namespace l2w
