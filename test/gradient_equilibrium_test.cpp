#include <gtest/gtest.h>

#include "l2w/meta/l2w_step.h"
#include "l2w/models/msdnet.h"
#include "l2w/models/ranet.h"
#include "l2w/nn/gradient_scale.h"
#include "test_util.h"

namespace l2w {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

TEST(GradientEquilibrium, ScaleGradientIsTheIdentityForward) {
  const auto x = torch::randn({3, 4}, kF64);
  const auto y = nn::scale_gradient(x, 0.25);
  EXPECT_TRUE(torch::equal(x, y));
}

// L = Σ a·y³ with y = scale_gradient(x, c): ∂L/∂x = c·3a·x², against c times a central difference of the
// forward in float64.
TEST(GradientEquilibrium, BackwardIsTheTrueGradientTimesTheFactor) {
  torch::manual_seed(0);
  const double c = 1.0 / 3.0;
  const auto a = torch::randn({5}, kF64);
  const auto x = torch::randn({5}, kF64).requires_grad_(true);
  const auto loss = (a * nn::scale_gradient(x, c).pow(3)).sum();
  const auto grad = torch::autograd::grad({loss}, {x})[0];
  const double h = 1e-6;
  for (int64_t i = 0; i < 5; ++i) {
    auto plus = x.detach().clone(), minus = x.detach().clone();
    plus[i] += h;
    minus[i] -= h;
    const double numeric = ((a * plus.pow(3)).sum().item<double>() - (a * minus.pow(3)).sum().item<double>()) / (2 * h);
    EXPECT_NEAR(grad[i].item<double>(), c * numeric, 1e-8);
  }
  EXPECT_TRUE(torch::allclose(grad, c * 3 * a * x.detach().pow(2), 1e-14, 0));
}

// The backward is differentiable: d/dx ⟨∂L/∂x, v⟩ passes the scaling twice, c²·6a·x·v.
TEST(GradientEquilibrium, DoubleBackwardScalesAgain) {
  torch::manual_seed(1);
  const double c = 4.0;
  const auto a = torch::randn({6}, kF64), v = torch::randn({6}, kF64);
  const auto x = torch::randn({6}, kF64).requires_grad_(true);
  const auto loss = (a * nn::scale_gradient(x, c).pow(3)).sum();
  const auto grad = torch::autograd::grad({loss}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
  const auto second = torch::autograd::grad({(grad * v).sum()}, {x})[0];
  EXPECT_TRUE(torch::allclose(second, c * c * 6 * a * x.detach() * v, 1e-13, 0));
}

// Parameter gradients of `net` for the loss of exit `exit` alone, with or without gradient equilibrium.
std::vector<torch::Tensor> exit_gradients(models::MSDNetImpl& net, const torch::Tensor& x, int64_t exit, bool ge) {
  net.set_gradient_equilibrium(ge);
  net.zero_grad();
  const auto logits = net.forward(x);
  logits[exit].pow(2).sum().backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : net.parameters()) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return grads;
}

// Exit 0's loss reaches block 0 only through the coarsest scale, scaled by 1/n; exit 0's own head is past
// the scaling. The outputs are the same with and without.
TEST(GradientEquilibrium, TheFirstExitsGradientReachesTheFirstBlockOverN) {
  torch::manual_seed(2);
  models::MSDNet net(test::micro_msdnet());
  net->to(torch::kFloat64);
  net->eval();  // batch statistics would couple the samples; the scaling is what is checked
  const auto x = torch::randn({3, 1, 16, 16}, kF64);
  const auto plain_logits = net->forward(x);
  net->set_gradient_equilibrium(true);
  const auto ge_logits = net->forward(x);
  for (size_t k = 0; k < plain_logits.size(); ++k) EXPECT_TRUE(torch::equal(plain_logits[k], ge_logits[k]));

  const auto plain = exit_gradients(*net, x, 0, false);
  const auto ge = exit_gradients(*net, x, 0, true);
  const double n = double(net->num_exits());
  size_t i = 0, in_block0 = 0;
  for (const auto& item : net->named_parameters()) {
    const auto& name = item.key();
    if (name.rfind("blocks.0.", 0) == 0) {
      EXPECT_TRUE(torch::allclose(ge[i], plain[i] / n, 1e-12, 1e-15)) << name;
      in_block0 += plain[i].abs().sum().item<double>() > 0;
    } else if (name.rfind("classifier.0.", 0) == 0) {
      EXPECT_TRUE(torch::equal(ge[i], plain[i])) << name;
    }
    ++i;
  }
  EXPECT_GT(in_block0, 0u);
}

// With n = 2 and the last exit's loss alone, block 0 gets the later path's share (n-1)/n = 1/2 on the
// coarsest scale; block 1 and the last head are untouched (factor 1 at the last exit).
TEST(GradientEquilibrium, TheLastExitsGradientIsKeptAtTheLastBlock) {
  torch::manual_seed(3);
  models::MSDNet net(test::micro_msdnet());
  net->to(torch::kFloat64);
  net->eval();
  const auto x = torch::randn({3, 1, 16, 16}, kF64);
  const auto plain = exit_gradients(*net, x, 1, false);
  const auto ge = exit_gradients(*net, x, 1, true);
  size_t i = 0, differ_in_block0 = 0;
  for (const auto& item : net->named_parameters()) {
    const auto& name = item.key();
    if (name.rfind("blocks.1.", 0) == 0 || name.rfind("classifier.1.", 0) == 0) {
      EXPECT_TRUE(torch::equal(ge[i], plain[i])) << name;
    }
    if (name.rfind("blocks.0.", 0) == 0) differ_in_block0 += !torch::allclose(ge[i], plain[i]);
    ++i;
  }
  EXPECT_GT(differ_in_block0, 0u);  // the coarsest scale's share is halved
}

// Under L2W the exact meta-gradient differentiates through the scaled graph twice: it is finite, and
// not the one without equilibrium.
TEST(GradientEquilibrium, TheExactMetaGradientPassesThroughIt) {
  std::vector<torch::Tensor> grads[2];
  for (int ge = 0; ge < 2; ++ge) {
    torch::manual_seed(4);
    models::MSDNet net(test::micro_msdnet());
    net->to(torch::kFloat64);
    net->set_gradient_equilibrium(ge == 1);
    train::Sgd sgd(net->parameters(), train::SgdOptions().lr(0.5));
    meta::MetaOptions options(2);
    options.wpn().hidden_size(8);
    meta::L2WStep step(*net, sgd, options);
    torch::manual_seed(5);
    const auto xt = torch::randn({6, 1, 16, 16}, kF64), xm = torch::randn({6, 1, 16, 16}, kF64);
    const auto yt = torch::randint(3, {6}, torch::kLong), ym = torch::randint(3, {6}, torch::kLong);
    grads[ge] = step.meta_gradient(xt, yt, xm, ym).grads;
  }
  bool differ = false;
  for (size_t i = 0; i < grads[0].size(); ++i) {
    EXPECT_TRUE(torch::isfinite(grads[1][i]).all().item<bool>());
    differ = differ || !torch::allclose(grads[0][i], grads[1][i]);
  }
  EXPECT_TRUE(differ);
}

TEST(GradientEquilibrium, ABackboneWhoseLaterBlocksReadMoreRefusesIt) {
  models::RANet net(test::small_ranet());
  EXPECT_THROW(net->set_gradient_equilibrium(true), std::invalid_argument);
  EXPECT_FALSE(net->gradient_equilibrium());
}

}  // namespace
}  // namespace l2w
