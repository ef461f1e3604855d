#include <gtest/gtest.h>

#include "l2w/nn/cost_meter.h"
#include "l2w/nn/pointwise_conv.h"

namespace l2w {
namespace {

torch::nn::Conv2d conv(int64_t in, int64_t out, torch::nn::Conv2dOptions options, torch::Dtype dtype = torch::kFloat32) {
  torch::manual_seed(3);
  auto c = torch::nn::Conv2d(options);
  c->to(dtype);
  c->eval();
  return c;
}

torch::nn::Conv2dOptions pointwise(int64_t in, int64_t out) { return torch::nn::Conv2dOptions(in, out, 1); }

// A batch of several images and one image alone (a product of its own) alike.
TEST(PointwiseConv, EqualsTheConvolutionUpToRoundingInFloat64) {
  for (int64_t batch : {5, 1}) {
    for (bool bias : {true, false}) {
      auto c = conv(40, 6, pointwise(40, 6).bias(bias), torch::kFloat64);
      auto p = nn::PointwiseConv(*c);
      const auto x = torch::randn({batch, 40, 9, 7}, torch::kFloat64);
      torch::NoGradGuard no_grad;
      const auto expected = c->forward(x);
      const auto actual = p->forward(x);
      EXPECT_EQ(actual.sizes(), expected.sizes());
      EXPECT_LT((actual - expected).abs().max().item<double>(), 1e-12) << "batch " << batch << ", bias " << bias;
    }
  }
}

TEST(PointwiseConv, SharesTheConvolutionsParameters) {
  auto c = conv(8, 4, pointwise(8, 4));
  auto p = nn::PointwiseConv(*c);
  EXPECT_EQ(p->weight.data_ptr(), c->weight.data_ptr());
  EXPECT_EQ(p->bias.data_ptr(), c->bias.data_ptr());
  EXPECT_EQ(p->named_parameters().keys(), c->named_parameters().keys());
  EXPECT_FALSE(p->is_training());
}

// MSDNet's dense layers hand their maps on as channel prefixes of a larger buffer (nn/channel_concat.h).
TEST(PointwiseConv, AChannelPrefixOfALargerMapEqualsTheConvolutionInFloat64) {
  auto c = conv(12, 5, pointwise(12, 5), torch::kFloat64);
  auto p = nn::PointwiseConv(*c);
  torch::NoGradGuard no_grad;
  for (int64_t batch : {3, 1}) {
    const auto buffer = torch::randn({batch, 20, 6, 6}, torch::kFloat64);
    const auto x = buffer.narrow(1, 0, 12);
    ASSERT_EQ(x.data_ptr(), buffer.data_ptr());  // the prefix itself, not a copy
    EXPECT_LT((p->forward(x) - c->forward(x.contiguous())).abs().max().item<double>(), 1e-12) << "batch " << batch;
  }
}

// The stage-wise engine gathers an image's companions differently from the per-batch engine: an image's
// result must not depend on the batch it is in, to the last bit.
TEST(PointwiseConv, AnImagesResultDoesNotDependOnItsBatch) {
  auto p = nn::PointwiseConv(*conv(24, 12, pointwise(24, 12)));
  const auto x = torch::randn({64, 24, 16, 16});
  torch::NoGradGuard no_grad;
  const auto whole = p->forward(x);
  EXPECT_TRUE(torch::equal(whole.slice(0, 37, 38), p->forward(x.slice(0, 37, 38).contiguous())));
  EXPECT_TRUE(torch::equal(whole.slice(0, 10, 26), p->forward(x.slice(0, 10, 26).contiguous())));
}

// channels_last inputs go to the convolution (oneDNN is fast there), and come back in channels_last.
TEST(PointwiseConv, ChannelsLastInputsGetTheConvolutionsResult) {
  auto c = conv(16, 6, pointwise(16, 6));
  auto p = nn::PointwiseConv(*c);
  const auto x = torch::randn({4, 16, 8, 8}).contiguous(torch::MemoryFormat::ChannelsLast);
  torch::NoGradGuard no_grad;
  const auto y = p->forward(x);
  EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::equal(y, c->forward(x)));
}

TEST(PointwiseConv, OnlyOneByOneConvolutionsOfStrideOneWithoutPaddingAreReplaced) {
  EXPECT_TRUE(nn::is_pointwise(*conv(4, 4, pointwise(4, 4))));
  EXPECT_FALSE(nn::is_pointwise(*conv(4, 4, pointwise(4, 4).stride(2))));
  EXPECT_FALSE(nn::is_pointwise(*conv(4, 4, pointwise(4, 4).padding(1))));
  EXPECT_FALSE(nn::is_pointwise(*conv(4, 4, pointwise(4, 4).groups(2))));
  EXPECT_FALSE(nn::is_pointwise(*conv(4, 4, torch::nn::Conv2dOptions(4, 4, 3).padding(1))));

  torch::nn::Sequential seq(conv(3, 8, torch::nn::Conv2dOptions(3, 8, 3).padding(1)), torch::nn::ReLU(),
                            conv(8, 8, pointwise(8, 8)), conv(8, 8, pointwise(8, 8).stride(2)));
  seq->eval();
  const auto keys = seq->named_parameters().keys();
  const auto x = torch::randn({2, 3, 8, 8});
  torch::NoGradGuard no_grad;
  const auto before = seq->forward(x);
  EXPECT_EQ(nn::use_pointwise_convs(*seq), 1);
  EXPECT_EQ(nn::use_pointwise_convs(*seq), 0);  // already replaced
  EXPECT_NE(seq[2]->as<nn::PointwiseConvImpl>(), nullptr);
  EXPECT_EQ(seq[3]->as<nn::PointwiseConvImpl>(), nullptr);
  EXPECT_EQ(seq->named_parameters().keys(), keys);
  EXPECT_LT((seq->forward(x) - before).abs().max().item<double>(), 1e-5);
}

// Still a Conv2d to everything that asks: the cost meter charges it the convolution's MUL-ADDs.
TEST(PointwiseConv, CostsWhatTheConvolutionCosts) {
  torch::nn::Sequential as_conv(conv(40, 6, pointwise(40, 6)));
  torch::nn::Sequential as_product(nn::PointwiseConv(*conv(40, 6, pointwise(40, 6))));
  const auto x = torch::randn({1, 40, 32, 32});
  torch::NoGradGuard no_grad;
  nn::Cost costs[2];
  for (int i = 0; i < 2; ++i) {
    nn::CostMeter meter;
    nn::run(i == 0 ? as_conv : as_product, x);
    costs[i] = meter.total();
  }
  EXPECT_EQ(costs[1].muladds, 40 * 6 * 32 * 32);
  EXPECT_EQ(costs[1].muladds, costs[0].muladds);
  EXPECT_EQ(costs[1].params, costs[0].params);
}

}  // namespace
}  // namespace l2w
