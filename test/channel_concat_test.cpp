#include <gtest/gtest.h>

#include "l2w/nn/channel_concat.h"
#include "test_util.h"

namespace l2w {
namespace {

torch::Tensor cat(const torch::Tensor& x, std::vector<torch::Tensor> parts) {
  parts.insert(parts.begin(), x);
  return torch::cat(parts, 1);
}

TEST(ChannelConcat, WithoutAnArenaItIsTorchCat) {
  const auto x = torch::randn({3, 5, 4, 4});
  const auto a = torch::randn({3, 2, 4, 4}), b = torch::randn({3, 1, 4, 4});
  torch::NoGradGuard no_grad;
  const auto y = nn::append_channels(x, {a, b});
  EXPECT_TRUE(torch::equal(y, cat(x, {a, b})));
  EXPECT_TRUE(y.is_contiguous());
}

// A dense block's map: the first append copies it into a buffer with room, the next ones write only their
// own channels there, and every map handed out keeps its values.
TEST(ChannelConcat, InAnArenaTheMapGrowsInPlace) {
  torch::NoGradGuard no_grad;
  nn::ChannelArena arena;
  const auto x = torch::randn({3, 5, 4, 4});
  std::vector<torch::Tensor> maps{x}, expected{x};
  for (int layer = 0; layer < 6; ++layer) {
    const auto part = torch::randn({3, 2, 4, 4});
    maps.push_back(nn::append_channels(maps.back(), {part}));
    expected.push_back(cat(expected.back(), {part}));
  }
  for (size_t i = 0; i < maps.size(); ++i) EXPECT_TRUE(torch::equal(maps[i], expected[i])) << "map " << i;
  EXPECT_NE(maps[1].data_ptr(), x.data_ptr());
  EXPECT_EQ(maps[2].data_ptr(), maps[1].data_ptr());  // grown, not copied
  EXPECT_FALSE(maps[2].is_contiguous());             // a channel prefix of the buffer
  EXPECT_TRUE(nn::has_dense_images(maps[2]));
}

// Growing a map that has already grown would overwrite the channels handed out the first time: it copies.
TEST(ChannelConcat, AnOlderMapExtendedAgainIsCopied) {
  torch::NoGradGuard no_grad;
  nn::ChannelArena arena;
  const auto x = torch::randn({2, 3, 5, 5});
  const auto first = nn::append_channels(x, {torch::randn({2, 1, 5, 5})});
  const auto a = torch::randn({2, 2, 5, 5}), b = torch::randn({2, 2, 5, 5});
  const auto grown = nn::append_channels(first, {a});
  const auto grown_copy = grown.clone();
  const auto again = nn::append_channels(first, {b});
  EXPECT_NE(again.data_ptr(), grown.data_ptr());
  EXPECT_TRUE(torch::equal(grown, grown_copy));
  EXPECT_TRUE(torch::equal(again, cat(first, {b})));
}

TEST(ChannelConcat, WithAutogradItIsTorchCatAndGradientsFlow) {
  nn::ChannelArena arena;
  const auto x = torch::randn({2, 3, 4, 4}, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto a = torch::randn({2, 2, 4, 4}, torch::dtype(torch::kFloat64).requires_grad(true));
  const auto y = nn::append_channels(x, {a});
  EXPECT_TRUE(y.is_contiguous());
  const auto weights = torch::randn_like(y);
  (y * weights).sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), weights.narrow(1, 0, 3)));
  EXPECT_TRUE(torch::equal(a.grad(), weights.narrow(1, 3, 2)));
}

TEST(ChannelConcat, ChannelsLastMapsStayChannelsLast) {
  torch::NoGradGuard no_grad;
  nn::ChannelArena arena;
  const auto x = torch::randn({2, 3, 4, 4}).contiguous(torch::MemoryFormat::ChannelsLast);
  const auto a = torch::randn({2, 2, 4, 4}).contiguous(torch::MemoryFormat::ChannelsLast);
  const auto y = nn::append_channels(x, {a});
  EXPECT_TRUE(y.is_contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::equal(y, cat(x, {a})));
  EXPECT_FALSE(nn::has_dense_images(x));
}

TEST(ChannelConcat, MismatchedMapsAreRejectedAsTorchCatRejectsThem) {
  torch::NoGradGuard no_grad;
  nn::ChannelArena arena;
  const auto x = torch::randn({2, 3, 4, 4});
  EXPECT_THROW(nn::append_channels(x, {torch::randn({2, 1, 5, 4})}), c10::Error);
  EXPECT_THROW(nn::append_channels(x, {torch::randn({3, 1, 4, 4})}), c10::Error);
}

// The outermost arena serves: a block's own arena inside a pass's lets maps grow from block to block.
TEST(ChannelConcat, TheOutermostArenaServesNestedOnes) {
  torch::NoGradGuard no_grad;
  nn::ChannelArena pass;
  torch::Tensor map = torch::randn({2, 3, 4, 4});
  {
    nn::ChannelArena block;
    EXPECT_EQ(nn::ChannelArena::current(), &pass);
    map = nn::append_channels(map, {torch::randn({2, 1, 4, 4})});
  }
  const auto before = map.data_ptr();
  {
    nn::ChannelArena block;
    map = nn::append_channels(map, {torch::randn({2, 1, 4, 4})});
  }
  EXPECT_EQ(map.data_ptr(), before);
  EXPECT_EQ(nn::ChannelArena::current(), &pass);
}

// MSDNet's dense layers grow in place without autograd; its outputs are those computed with autograd.
TEST(ChannelConcat, MSDNetGivesTheSameOutputsWithAndWithoutAutograd) {
  torch::manual_seed(0);
  auto net = models::MSDNet(test::tiny_msdnet());
  net->to(torch::kFloat64);
  net->eval();
  const auto x = torch::randn({4, 3, 32, 32}, torch::kFloat64);
  const auto with_grad = net->forward(x);
  torch::NoGradGuard no_grad;
  const auto without = net->forward(x);
  ASSERT_EQ(with_grad.size(), without.size());
  for (size_t k = 0; k < without.size(); ++k)
    EXPECT_LT((with_grad[k] - without[k]).abs().max().item<double>(), 1e-12) << "exit " << k;
}

}  // namespace
}  // namespace l2w
