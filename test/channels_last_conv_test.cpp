#include <gtest/gtest.h>

#include "l2w/nn/channels_last_conv.h"

namespace l2w {
namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride, torch::Dtype dtype = torch::kFloat32) {
  torch::manual_seed(5);
  auto c = torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
  c->to(dtype);
  c->eval();
  return c;
}

TEST(ChannelsLastConv, OneImageGoesThroughChannelsLastAndComesBackNchwWithTheSameValues) {
  for (int64_t stride : {1, 2}) {
    auto c = conv3x3(12, 20, stride, torch::kFloat64);
    auto l = nn::ChannelsLastConv(*c);
    const auto x = torch::randn({1, 12, 15, 15}, torch::kFloat64);
    c10::InferenceMode inference;
    EXPECT_TRUE(nn::takes_channels_last_path(x));
    const auto y = l->forward(x);
    EXPECT_TRUE(y.is_contiguous());
    EXPECT_LT((y - c->forward(x)).abs().max().item<double>(), 1e-12) << "stride " << stride;
  }
}

TEST(ChannelsLastConv, OtherInputsGoToTheConvolutionAsTheyAre) {
  auto c = conv3x3(6, 8, 1);
  auto l = nn::ChannelsLastConv(*c);
  c10::InferenceMode inference;
  const auto batch = torch::randn({3, 6, 9, 9});
  EXPECT_FALSE(nn::takes_channels_last_path(batch));
  EXPECT_TRUE(torch::equal(l->forward(batch), c->forward(batch)));  // the same operator on the same tensors
  const auto cl = torch::randn({1, 6, 9, 9}).contiguous(torch::MemoryFormat::ChannelsLast);
  EXPECT_FALSE(nn::takes_channels_last_path(cl));
}

TEST(ChannelsLastConv, SharesTheConvolutionsParametersAndFollowsAChangeAfterRefresh) {
  auto c = conv3x3(4, 4, 1);
  auto l = nn::ChannelsLastConv(*c);
  EXPECT_EQ(l->weight.data_ptr(), c->weight.data_ptr());
  EXPECT_EQ(l->named_parameters().keys(), c->named_parameters().keys());
  EXPECT_FALSE(l->is_training());
  {
    torch::NoGradGuard no_grad;
    c->weight.mul_(2);
  }
  l->refresh();
  const auto x = torch::randn({1, 4, 6, 6});
  c10::InferenceMode inference;
  EXPECT_LT((l->forward(x) - c->forward(x)).abs().max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace l2w
