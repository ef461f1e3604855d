#include <cmath>
#include <iostream>
#include <optional>

#include <gtest/gtest.h>

#include "l2w/criterion/multi_exit_loss.h"
#include "l2w/meta/l2w_step.h"
#include "l2w/models/msdnet.h"
#include "l2w/io/state_dict.h"
#include "test_util.h"

namespace l2w {
namespace {

meta::MetaOptions meta_options(double epsilon) {
  meta::MetaOptions o(2);
  o.wpn().hidden_size(8).epsilon(epsilon);
  o.meta_lr(1e-2);
  return o;
}

TEST(L2WStep, SecondOrderWpnGradientMatchesFiniteDifferencesInFloat64) {
  torch::manual_seed(1);
  models::MSDNet net(test::micro_msdnet());
  net->to(torch::kFloat64);
  train::Sgd sgd(net->parameters(), train::SgdOptions().lr(0.5).momentum(0.9).weight_decay(1e-3));
  // Give the optimizer a momentum buffer so that the pseudo step uses it.
  for (auto& p : net->parameters()) p.mutable_grad() = torch::randn_like(p) * 0.1;
  sgd.step();
  sgd.zero_grad();
  meta::L2WStep step(*net, sgd, meta_options(0.8));
  const auto xt = torch::randn({6, 1, 16, 16}, torch::kFloat64);
  const auto yt = torch::randint(3, {6}, torch::kLong);
  const auto xm = torch::randn({6, 1, 16, 16}, torch::kFloat64);
  const auto ym = torch::randint(3, {6}, torch::kLong);
  const auto analytic = step.meta_gradient(xt, yt, xm, ym);

  const auto params = step.wpn()->parameters();
  const double delta = 1e-6;
  double err2 = 0, norm2 = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    auto flat = params[i].view(-1);
    // A handful of entries per tensor keeps the test fast.
    for (int64_t j = 0; j < flat.size(0); j += std::max<int64_t>(1, flat.size(0) / 5)) {
      const double original = flat[j].item<double>();
      torch::NoGradGuard no_grad;
      flat[j] = original + delta;
      double plus;
      {
        torch::AutoGradMode enable(true);
        plus = step.meta_gradient(xt, yt, xm, ym).meta_loss.item<double>();
      }
      flat[j] = original - delta;
      double minus;
      {
        torch::AutoGradMode enable(true);
        minus = step.meta_gradient(xt, yt, xm, ym).meta_loss.item<double>();
      }
      flat[j] = original;
      const double numeric = (plus - minus) / (2 * delta);
      const double exact = analytic.grads[i].view(-1)[j].item<double>();
      err2 += (numeric - exact) * (numeric - exact);
      norm2 += numeric * numeric;
    }
  }
  ASSERT_GT(norm2, 0.0);
  EXPECT_LT(std::sqrt(err2 / norm2), 1e-4);
}

TEST(L2WStep, ZeroEpsilonEqualsPlainTrainingOnTheHalves) {
  torch::manual_seed(2);
  models::MSDNet a(test::micro_msdnet());
  models::MSDNet b(test::micro_msdnet());
  io::load_state_dict(*b, io::state_dict(*a), "copy");
  train::Sgd sgd_a(a->parameters(), train::SgdOptions().lr(0.1).nesterov(true));
  train::Sgd sgd_b(b->parameters(), train::SgdOptions().lr(0.1).nesterov(true));
  meta::L2WStep l2w(*a, sgd_a, meta_options(0.0));
  train::PlainStep plain(*b, sgd_b, 0.0);
  for (int it = 0; it < 3; ++it) {
    const auto x = torch::randn({8, 1, 16, 16});
    const auto y = torch::randint(3, {8}, torch::kLong);
    l2w.run(x, y, {it, 1.0});
    plain.run(x.slice(0, 0, 4), y.slice(0, 0, 4), {it, 1.0});
    plain.run(x.slice(0, 4), y.slice(0, 4), {it, 1.0});
  }
  const auto sa = io::state_dict(*a);
  const auto sb = io::state_dict(*b);
  for (const auto& item : sa) EXPECT_TRUE(torch::equal(item.value(), sb[item.key()])) << item.key();
}

TEST(L2WStep, PseudoStepEqualsTheRealStep) {
  for (bool nesterov : {false, true}) {
    torch::manual_seed(3);
    models::MSDNet net(test::micro_msdnet());
    train::Sgd sgd(net->parameters(), train::SgdOptions().lr(0.2).momentum(0.9).nesterov(nesterov).weight_decay(1e-2));
    for (int s = 0; s < 2; ++s) {  // the second step has a momentum buffer
      const auto params = net->parameters();
      std::vector<torch::Tensor> grads, pseudo;
      for (const auto& p : params) grads.push_back(torch::randn_like(p));
      {
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < params.size(); ++i)
          pseudo.push_back(params[i] - sgd.options().lr() * sgd.update(i, grads[i], params[i]).first);
      }
      for (size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i];
      sgd.step();
      for (size_t i = 0; i < params.size(); ++i)
        EXPECT_TRUE(torch::allclose(params[i], pseudo[i], 1e-6, 1e-7)) << "nesterov " << nesterov << " step " << s;
    }
  }
}

TEST(L2WStep, MetaStepLeavesTheRealModelAlone) {
  for (auto mode : {meta::MetaGrad::kExact, meta::MetaGrad::kFiniteDifference}) {
    torch::manual_seed(4);
    models::MSDNet net(test::micro_msdnet());
    net->train();
    train::Sgd sgd(net->parameters(), train::SgdOptions().lr(0.1));
    for (auto& p : net->parameters()) p.mutable_grad() = torch::full_like(p, 0.25);
    auto options = meta_options(0.8);
    options.meta_grad(mode);
    meta::L2WStep step(*net, sgd, options);
    const auto before = io::state_dict(*net);
    std::vector<torch::Tensor> saved;
    for (const auto& item : before) saved.push_back(item.value().clone());
    step.meta_gradient(torch::randn({4, 1, 16, 16}), torch::randint(3, {4}, torch::kLong),
                       torch::randn({4, 1, 16, 16}), torch::randint(3, {4}, torch::kLong));
    size_t i = 0;
    for (const auto& item : io::state_dict(*net)) EXPECT_TRUE(torch::equal(item.value(), saved[i++])) << item.key();
    for (const auto& p : net->parameters()) EXPECT_TRUE(torch::equal(p.grad(), torch::full_like(p, 0.25)));
  }
}

TEST(L2WStep, SharedForwardGivesTheSameMetaGradientAndUpdatesBatchNormOnce) {
  // Training's fd path hands its forward to the real step; its gradient must be the tested one, and the
  // BatchNorm statistics must move as one train-mode forward moves them. The exact path shares nothing.
  for (auto mode : {meta::MetaGrad::kFiniteDifference, meta::MetaGrad::kExact}) {
    torch::manual_seed(5);
    models::MSDNet net(test::micro_msdnet());
    net->train();
    train::Sgd sgd(net->parameters(), train::SgdOptions().lr(0.1));
    auto options = meta_options(0.8);
    options.meta_grad(mode);
    meta::L2WStep step(*net, sgd, options);
    const auto xt = torch::randn({4, 1, 16, 16}), xm = torch::randn({4, 1, 16, 16});
    const auto yt = torch::randint(3, {4}, torch::kLong), ym = torch::randint(3, {4}, torch::kLong);
    const auto alone = step.meta_gradient(xt, yt, xm, ym);
    std::vector<torch::Tensor> saved;
    for (const auto& item : io::state_dict(*net)) saved.push_back(item.value().clone());
    models::MSDNet copy(test::micro_msdnet());  // for the statistics one plain train-mode forward gives
    copy->train();
    io::load_state_dict(*copy, io::state_dict(*net), "copy");
    std::optional<meta::L2WStep::HalfForward> forward;
    const auto shared = step.meta_gradient(xt, yt, xm, ym, &forward);
    ASSERT_EQ(forward.has_value(), mode == meta::MetaGrad::kFiniteDifference);
    EXPECT_TRUE(torch::equal(alone.meta_loss, shared.meta_loss));
    for (size_t i = 0; i < alone.grads.size(); ++i) EXPECT_TRUE(torch::equal(alone.grads[i], shared.grads[i]));
    size_t i = 0, moved = 0;
    for (const auto& item : io::state_dict(*net)) moved += !torch::equal(item.value(), saved[i++]);
    if (mode == meta::MetaGrad::kExact) {
      EXPECT_EQ(moved, 0u);
      continue;
    }
    EXPECT_GT(moved, 0u);
    copy->forward(xt);
    const auto expected = io::state_dict(*copy);
    for (const auto& item : io::state_dict(*net)) EXPECT_TRUE(torch::equal(item.value(), expected[item.key()])) << item.key();
    EXPECT_EQ(forward->logits.size(), size_t(net->num_exits()));
  }
}

// Cosine similarity and relative error of the finite-difference WPN gradient against the exact one, on
// the tiny CIFAR-10 MSDNet with a momentum buffer (Nesterov, dampening) in the pseudo step.
std::pair<double, double> fd_against_exact(torch::ScalarType dtype) {
  torch::manual_seed(6);
  models::MSDNet net(test::tiny_msdnet());
  net->to(dtype);
  net->train();
  train::Sgd sgd(net->parameters(),
                 train::SgdOptions().lr(0.1).momentum(0.9).dampening(0.1).nesterov(true).weight_decay(1e-4));
  for (auto& p : net->parameters()) p.mutable_grad() = torch::randn_like(p) * 0.01;
  sgd.step();
  sgd.zero_grad();
  auto options = meta_options(0.8);
  options.wpn(meta::WpnOptions(3).hidden_size(16).epsilon(0.8));
  meta::L2WStep exact(*net, sgd, options);
  options.meta_grad(meta::MetaGrad::kFiniteDifference);
  meta::L2WStep fd(*net, sgd, options);
  io::load_state_dict(*fd.wpn(), io::state_dict(*exact.wpn()), "copy");
  const auto opts = torch::TensorOptions().dtype(dtype);
  const auto xt = torch::randn({16, 3, 32, 32}, opts), xm = torch::randn({16, 3, 32, 32}, opts);
  const auto yt = torch::randint(10, {16}, torch::kLong), ym = torch::randint(10, {16}, torch::kLong);
  const auto a = exact.meta_gradient(xt, yt, xm, ym);
  const auto b = fd.meta_gradient(xt, yt, xm, ym);
  EXPECT_DOUBLE_EQ(a.meta_loss.item<double>(), b.meta_loss.item<double>());
  double dot = 0, na = 0, nb = 0, diff = 0;
  for (size_t i = 0; i < a.grads.size(); ++i) {
    const auto ga = a.grads[i].to(torch::kFloat64), gb = b.grads[i].to(torch::kFloat64);
    dot += (ga * gb).sum().item<double>();
    na += ga.pow(2).sum().item<double>();
    nb += gb.pow(2).sum().item<double>();
    diff += (ga - gb).pow(2).sum().item<double>();
  }
  EXPECT_GT(na, 0.0);
  return {dot / std::sqrt(na * nb), std::sqrt(diff / na)};
}

TEST(L2WStep, FiniteDifferenceMetaGradientAgreesWithExactInFloat32) {
  const auto [cosine, relative] = fd_against_exact(torch::kFloat32);
  EXPECT_GE(cosine, 0.999);
  EXPECT_LE(relative, 3e-2);
  std::cout << "float32: cosine " << cosine << ", relative error " << relative << std::endl;
}

TEST(L2WStep, FiniteDifferenceMetaGradientAgreesWithExactInFloat64) {
  const auto [cosine, relative] = fd_against_exact(torch::kFloat64);
  EXPECT_GE(cosine, 0.999);
  EXPECT_LE(relative, 1e-4);
  std::cout << "float64: cosine " << cosine << ", relative error " << relative << std::endl;
}

TEST(L2WStep, FiniteDifferenceStepWithZeroEpsilonEqualsPlainTraining) {
  // The shared forward must leave the real step exactly what plain training does.
  torch::manual_seed(7);
  models::MSDNet a(test::micro_msdnet());
  models::MSDNet b(test::micro_msdnet());
  io::load_state_dict(*b, io::state_dict(*a), "copy");
  train::Sgd sgd_a(a->parameters(), train::SgdOptions().lr(0.1));
  train::Sgd sgd_b(b->parameters(), train::SgdOptions().lr(0.1));
  auto options = meta_options(0.0);
  options.meta_grad(meta::MetaGrad::kFiniteDifference);
  meta::L2WStep l2w(*a, sgd_a, options);
  train::PlainStep plain(*b, sgd_b, 0.0);
  for (int it = 0; it < 3; ++it) {
    const auto x = torch::randn({8, 1, 16, 16});
    const auto y = torch::randint(3, {8}, torch::kLong);
    const auto meta_loss = l2w.run(x, y, {it, 1.0}).meta_loss;
    ASSERT_TRUE(meta_loss.defined());
    EXPECT_TRUE(std::isfinite(meta_loss.item<double>()));
    plain.run(x.slice(0, 0, 4), y.slice(0, 0, 4), {it, 1.0});
    plain.run(x.slice(0, 4), y.slice(0, 4), {it, 1.0});
  }
  const auto sa = io::state_dict(*a);
  const auto sb = io::state_dict(*b);
  for (const auto& item : sa) EXPECT_TRUE(torch::equal(item.value(), sb[item.key()])) << item.key();
}

// An odd batch is halved as the reference's chunk(2) halves it: the first phase trains on the first
// ceil(n/2) images. The iteration must equal two phases built by hand from those halves.
TEST(L2WStep, OddBatchGivesTheFirstPhaseTheLargerHalf) {
  torch::manual_seed(8);
  models::MSDNet a(test::micro_msdnet()), b(test::micro_msdnet());
  a->to(torch::kFloat64);
  b->to(torch::kFloat64);
  a->train();
  b->train();
  io::load_state_dict(*b, io::state_dict(*a), "copy");
  const auto sgd_options = train::SgdOptions().lr(0.1).momentum(0.9).weight_decay(1e-3);
  train::Sgd sgd_a(a->parameters(), sgd_options), sgd_b(b->parameters(), sgd_options);
  const auto options = meta_options(0.8);
  meta::L2WStep step(*a, sgd_a, options), by_hand(*b, sgd_b, options);
  io::load_state_dict(*by_hand.wpn(), io::state_dict(*step.wpn()), "copy");
  train::Adam adam(by_hand.wpn()->parameters(),
                   train::AdamOptions().lr(options.meta_lr()).weight_decay(options.meta_weight_decay()));
  runtime::LossScaler no_scaling(false);

  const auto x = torch::randn({33, 1, 16, 16}, torch::kFloat64);
  const auto y = torch::randint(3, {33}, torch::kLong);
  const auto report = step.run(x, y, {0, 1.0});

  const torch::Tensor xs[2] = {x.slice(0, 0, 17), x.slice(0, 17)}, ys[2] = {y.slice(0, 0, 17), y.slice(0, 17)};
  ASSERT_EQ(xs[0].size(0), 17);
  ASSERT_EQ(xs[1].size(0), 16);
  torch::Tensor meta_loss = torch::zeros({}, torch::kFloat64);
  std::vector<torch::Tensor> weights;
  for (int phase = 0; phase < 2; ++phase) {
    const auto g = by_hand.meta_gradient(xs[phase], ys[phase], xs[1 - phase], ys[1 - phase]);
    adam.step(g.grads);
    meta_loss = meta_loss + g.meta_loss / 2;
    const auto logits = train::forward_logits(*b, xs[phase], runtime::Amp::kOff);
    const auto losses = criterion::per_exit_losses(logits, ys[phase]);
    torch::Tensor w;
    {
      torch::NoGradGuard no_grad;
      w = by_hand.wpn()(losses, criterion::per_exit_confidences(logits));
    }
    weights.push_back(w);
    train::descend(criterion::weighted_loss(losses, w), sgd_b, nullptr, no_scaling);
  }
  EXPECT_TRUE(torch::equal(report.meta_loss, meta_loss));
  EXPECT_TRUE(torch::equal(report.weights, torch::cat(weights)));
  const auto sa = io::state_dict(*a), sb = io::state_dict(*b);
  for (const auto& item : sa) EXPECT_TRUE(torch::equal(item.value(), sb[item.key()])) << item.key();
  const auto wa = io::state_dict(*step.wpn()), wb = io::state_dict(*by_hand.wpn());
  for (const auto& item : wa) EXPECT_TRUE(torch::equal(item.value(), wb[item.key()])) << item.key();
}

}  // namespace
}  // namespace l2w
