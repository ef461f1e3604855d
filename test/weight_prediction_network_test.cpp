#include <gtest/gtest.h>

#include "l2w/meta/weight_prediction_network.h"

namespace l2w {
namespace {

using meta::Constraint;

meta::WeightPredictionNetwork make(Constraint c, meta::WpnInput input = meta::WpnInput::kLoss) {
  torch::manual_seed(0);
  return meta::WeightPredictionNetwork(meta::WpnOptions(3).hidden_size(16).num_layers(2).constraint(c).epsilon(0.5).input(input));
}

TEST(WeightPredictionNetwork, CentringConstraints) {
  const auto losses = torch::rand({6, 3}) * 3;
  const auto conf = torch::rand({6, 3});
  const auto row = make(Constraint::kRow)->forward(losses, conf);
  EXPECT_TRUE(torch::allclose(row.mean(0), torch::ones({3}), 1e-5, 1e-6));
  const auto col = make(Constraint::kCol)->forward(losses, conf);
  EXPECT_TRUE(torch::allclose(col.mean(1), torch::ones({6}), 1e-5, 1e-6));
  const auto mat = make(Constraint::kMat)->forward(losses, conf);
  EXPECT_NEAR(mat.mean().item<double>(), 1.0, 1e-6);
  // tanh bounds the spread: |W - 1| <= 2 epsilon.
  EXPECT_LE((mat - 1).abs().max().item<double>(), 1.0 + 1e-6);
}

TEST(WeightPredictionNetwork, LayersAndInputs) {
  auto both = make(Constraint::kCol, meta::WpnInput::kBoth);
  // Linear(6→16), ReLU, Linear(16→16), ReLU, Linear(16→3), Tanh.
  EXPECT_EQ(both->net->size(), 6u);
  EXPECT_EQ(both->named_parameters()["net.0.weight"].sizes(), (std::vector<int64_t>{16, 6}));
  const auto losses = torch::rand({4, 3}).requires_grad_();
  const auto w = both->forward(losses, torch::rand({4, 3}));
  EXPECT_EQ(w.sizes(), (std::vector<int64_t>{4, 3}));
  // The input is detached: no gradient reaches the losses through the weights.
  w.sum().backward();
  EXPECT_FALSE(losses.grad().defined());
}

TEST(WeightPredictionNetwork, ZeroEpsilonGivesUnitWeights) {
  auto wpn = meta::WeightPredictionNetwork(meta::WpnOptions(3).hidden_size(8).epsilon(0));
  EXPECT_TRUE(torch::equal(wpn->forward(torch::rand({5, 3}), torch::rand({5, 3})), torch::ones({5, 3})));
}

}  // namespace
}  // namespace l2w
