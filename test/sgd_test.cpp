#include <cmath>

#include <gtest/gtest.h>

#include "l2w/train/sgd.h"

namespace l2w {
namespace {

// Three steps of l2w's Sgd and of LibTorch's torch::optim::SGD (PyTorch's algorithm) on the same
// gradients end at the same parameters.
void expect_same_as_torch(double momentum, double dampening, bool nesterov, double weight_decay) {
  torch::manual_seed(3);
  auto a = torch::randn({5, 4}, torch::kFloat64).requires_grad_();
  auto b = a.detach().clone().requires_grad_();
  train::Sgd ours({a}, train::SgdOptions().lr(0.3).momentum(momentum).dampening(dampening).nesterov(nesterov).weight_decay(weight_decay));
  torch::optim::SGD theirs({b}, torch::optim::SGDOptions(0.3).momentum(momentum).dampening(dampening).nesterov(nesterov).weight_decay(weight_decay));
  for (int i = 0; i < 3; ++i) {
    const auto g = torch::randn({5, 4}, torch::kFloat64);
    a.mutable_grad() = g.clone();
    b.mutable_grad() = g.clone();
    ours.step();
    theirs.step();
  }
  EXPECT_TRUE(torch::allclose(a, b, 1e-12, 1e-12)) << "momentum " << momentum << " nesterov " << nesterov;
}

TEST(Sgd, MatchesPyTorchsAlgorithm) {
  expect_same_as_torch(0.0, 0.0, false, 0.0);
  expect_same_as_torch(0.9, 0.0, false, 1e-4);
  expect_same_as_torch(0.9, 0.0, true, 1e-4);
  expect_same_as_torch(0.5, 0.3, false, 1e-2);
}

TEST(Sgd, StateRoundTrips) {
  auto p = torch::randn({3}).requires_grad_();
  train::Sgd sgd({p}, train::SgdOptions().lr(0.1));
  p.mutable_grad() = torch::ones({3});
  sgd.step();
  train::Sgd restored({p}, train::SgdOptions().lr(0.5));
  restored.load_state_dict(sgd.state_dict());
  EXPECT_DOUBLE_EQ(restored.options().lr(), 0.1);
  EXPECT_TRUE(torch::equal(restored.momentum_buffers()[0], sgd.momentum_buffers()[0]));
}


TEST(Sgd, RefusesWhatTorchOptimSgdRefusesNamingTheField) {
  const auto error_of = [](const train::SgdOptions& o) {
    try {
      train::check_sgd_options(o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error_of(train::SgdOptions()), "");
  EXPECT_EQ(error_of(train::SgdOptions().lr(-1)), "lr: -1, expected a number >= 0");
  EXPECT_EQ(error_of(train::SgdOptions().lr(std::nan(""))), "lr: nan, expected a number >= 0");
  EXPECT_EQ(error_of(train::SgdOptions().momentum(1)), "momentum: 1, expected a number in [0, 1)");
  EXPECT_EQ(error_of(train::SgdOptions().weight_decay(-0.5)), "weight_decay: -0.5, expected a number >= 0");
  EXPECT_EQ(error_of(train::SgdOptions().momentum(0).nesterov(true)), "nesterov: needs a non-zero momentum");
  EXPECT_THROW(train::Sgd({torch::zeros(1)}, train::SgdOptions().lr(-0.1)), std::invalid_argument);
}

}  // namespace
}  // namespace l2w
