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
  // Linear(6→16), ReLU, Linear(16→16), ReLU, Linear(16→3), Tanh, under the reference's names and in its order.
  std::vector<std::string> names;
  for (const auto& p : both->named_parameters()) names.push_back(p.key());
  EXPECT_EQ(names, (std::vector<std::string>{"first_hidden_layer.fc.weight", "first_hidden_layer.fc.bias",
                                             "rest_hidden_layers.0.fc.weight", "rest_hidden_layers.0.fc.bias",
                                             "output_layer.weight", "output_layer.bias"}));
  EXPECT_EQ(both->named_parameters()["first_hidden_layer.fc.weight"].sizes(), (std::vector<int64_t>{16, 6}));
  EXPECT_EQ(both->named_parameters()["output_layer.weight"].sizes(), (std::vector<int64_t>{3, 16}));
  EXPECT_TRUE(both->named_buffers().is_empty());
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
