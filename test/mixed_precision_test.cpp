// Mixed precision: autocast regions and fp16 loss scaling (runtime/mixed_precision.h), and a plain
// step under bf16 autocast on the CPU.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include "l2w/runtime/mixed_precision.h"
#include "l2w/train/train_step.h"
#include "test_util.h"

namespace l2w {
namespace {

TEST(MixedPrecision, AutocastRunsConvolutionsInBf16InsideTheRegionOnly) {
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3));
  const auto x = torch::randn({2, 3, 8, 8});
  {
    runtime::AutocastGuard outer(runtime::Amp::kBf16, torch::kCPU);
    EXPECT_EQ(conv(x).scalar_type(), torch::kBFloat16);
    {
      runtime::AutocastGuard off(runtime::Amp::kOff, torch::kCPU);  // kOff leaves the region as it is
      EXPECT_EQ(conv(x).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(conv(x).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(conv(x).scalar_type(), torch::kFloat32);
  EXPECT_FALSE(at::autocast::is_autocast_enabled(torch::kCPU));
}

TEST(MixedPrecision, ParseNamesTheAllowedValues) {
  EXPECT_EQ(runtime::parse_amp("bf16"), runtime::Amp::kBf16);
  EXPECT_EQ(runtime::parse_amp("fp16"), runtime::Amp::kFp16);
  EXPECT_EQ(runtime::parse_amp("off"), runtime::Amp::kOff);
  EXPECT_THROW(runtime::parse_amp("fp8"), std::invalid_argument);
}

TEST(MixedPrecision, LossScalerUnscalesAndSkipsOverflowedSteps) {
  auto p = torch::ones({3}, torch::requires_grad());
  runtime::LossScaler scaler(true, 1024.0, /*growth_interval=*/2);
  scaler.scale((p * torch::tensor({1.0f, 2.0f, 3.0f})).sum()).backward();
  EXPECT_EQ(scaler.unscale_and_update({p}).item<float>(), 0.0f);  // the step may be taken
  EXPECT_TRUE(torch::equal(p.grad(), torch::tensor({1.0f, 2.0f, 3.0f})));
  EXPECT_EQ(scaler.scale(), 1024.0);
  p.mutable_grad() = torch::tensor({1.0f, std::numeric_limits<float>::infinity(), 0.0f});
  EXPECT_EQ(scaler.unscale_and_update({p}).item<float>(), 1.0f);  // overflow: skip it
  EXPECT_EQ(scaler.scale(), 512.0);
  for (int i = 0; i < 2; ++i) {
    p.mutable_grad() = torch::ones({3});
    EXPECT_EQ(scaler.unscale_and_update({p}).item<float>(), 0.0f);
  }
  EXPECT_EQ(scaler.scale(), 1024.0);  // two good steps in a row double it
  runtime::LossScaler off(false);
  const auto loss = torch::tensor(3.0f);
  EXPECT_TRUE(off.scale(loss).is_same(loss));
  EXPECT_FALSE(off.unscale_and_update({p}).defined());
}

// An overflowed step is skipped on the device: parameters and momentum stay as they were, and a good
// step after it moves them as an ordinary SGD step.
TEST(MixedPrecision, SgdSkipsAnOverflowedStepOnTheDevice) {
  auto p = torch::ones({3}, torch::requires_grad());
  train::Sgd sgd({p}, train::SgdOptions().lr(0.5).momentum(0.9).weight_decay(0));
  p.mutable_grad() = torch::ones({3});
  sgd.step(torch::zeros({}));
  const auto after_one = p.detach().clone();
  const auto buffer = sgd.momentum_buffers()[0].clone();
  p.mutable_grad() = torch::full({3}, std::numeric_limits<float>::infinity());
  sgd.step(torch::ones({}));
  EXPECT_TRUE(torch::equal(p, after_one));
  EXPECT_TRUE(torch::equal(sgd.momentum_buffers()[0], buffer));
  p.mutable_grad() = torch::ones({3});
  sgd.step(torch::zeros({}));
  EXPECT_TRUE(torch::allclose(p, after_one - 0.5 * (0.9 * buffer + 1)));
}

// A plain step under bf16 autocast: losses in float32, parameters stay float32 and move as in float32
// in the same direction.
TEST(MixedPrecision, Bf16PlainStepKeepsFloat32ParametersCloseToFloat32Training) {
  torch::manual_seed(3);
  models::MSDNet a(test::tiny_msdnet());
  torch::manual_seed(3);
  models::MSDNet b(test::tiny_msdnet());
  train::Sgd sgd_a(a->parameters(), train::SgdOptions().lr(0.05).momentum(0.9));
  train::Sgd sgd_b(b->parameters(), train::SgdOptions().lr(0.05).momentum(0.9));
  train::PlainStep full(*a, sgd_a, 0.0);
  train::PlainStep mixed(*b, sgd_b, 0.0, nullptr, runtime::Amp::kBf16);
  const auto x = torch::randn({16, 3, 32, 32});
  const auto y = torch::randint(10, {16}, torch::kLong);
  const auto ra = full.run(x, y, {});
  const auto rb = mixed.run(x, y, {});
  EXPECT_EQ(rb.losses.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(ra.losses, rb.losses, 0.05, 0.05));
  // The update each made, as one vector: bf16 rounds activations to 8 bits, so the two agree in
  // direction, not to float32 precision.
  torch::manual_seed(3);
  models::MSDNet start(test::tiny_msdnet());
  std::vector<torch::Tensor> ua, ub;
  for (size_t i = 0; i < start->parameters().size(); ++i) {
    ASSERT_EQ(b->parameters()[i].scalar_type(), torch::kFloat32);
    ua.push_back((a->parameters()[i] - start->parameters()[i]).flatten());
    ub.push_back((b->parameters()[i] - start->parameters()[i]).flatten());
  }
  const auto da = torch::cat(ua), db = torch::cat(ub);
  const double cosine = (da.dot(db) / (da.norm() * db.norm())).item<double>();
  EXPECT_GT(cosine, 0.95);
  EXPECT_NEAR(db.norm().item<double>() / da.norm().item<double>(), 1.0, 0.1);
}

}  // namespace
}  // namespace l2w
