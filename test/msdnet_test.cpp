#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "l2w/models/msdnet.h"
#include "l2w/io/state_dict.h"
#include "test_util.h"

namespace l2w {
namespace {

std::string shape_text(const torch::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s.append(i ? "x" : "").append(std::to_string(t.size(i)));
  return s;
}

TEST(MSDNet, StateDictKeysAndShapesMatchTheReference) {
  models::MSDNet net(test::tiny_msdnet());
  const auto state = io::state_dict(*net);
  std::ifstream in(std::string(L2W_TEST_DATA) + "/msdnet_tiny_cifar10_state_dict_keys.tsv");
  ASSERT_TRUE(in) << "missing test vector file";
  std::string line;
  size_t rows = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, shape;
    std::getline(fields, key, '\t');
    std::getline(fields, shape, '\t');
    const torch::Tensor* t = state.find(key);
    ASSERT_NE(t, nullptr) << "missing key " << key;
    EXPECT_EQ(shape_text(*t), shape) << key;
    EXPECT_EQ(state.keys()[rows], key) << "order differs at row " << rows;
    ++rows;
  }
  EXPECT_EQ(rows, state.size());
  EXPECT_EQ(rows, 318u);
}

TEST(MSDNet, ExitShapesFor28And32AndImageNetInputs) {
  for (auto [channels, size, classes, imagenet] :
       {std::tuple{1, 28, 10, false}, std::tuple{3, 32, 100, false}, std::tuple{3, 224, 1000, true}}) {
    auto o = test::tiny_msdnet(channels, classes).imagenet(imagenet);
    // ImageNet MSDNets have four scales (56, 28, 14, 7) so that the heads end at 1x1.
    if (imagenet) o.gr_factor({1, 2, 4, 4}).bn_factor({1, 2, 4, 4});
    models::MSDNet net(o);
    torch::NoGradGuard no_grad;
    net->eval();
    const auto logits = net->forward(torch::randn({2, channels, size, size}));
    ASSERT_EQ(logits.size(), 3u);
    for (const auto& l : logits) EXPECT_EQ(shape_text(l), "2x" + std::to_string(classes));
  }
}

TEST(MSDNet, SeedImageNetConfigurationRunsForwardAndBackwardAt224) {
  // The seed's ImageNet MSDNet (step 4): nBlocks 5, even steps of 4, base 4, nChannels 32, growthRate 16.
  models::MSDNet net(models::MSDNetOptions()
                         .n_blocks(5)
                         .step_mode(models::StepMode::kEven)
                         .step(4)
                         .base(4)
                         .n_channels(32)
                         .growth_rate(16)
                         .gr_factor({1, 2, 4, 4})
                         .bn_factor({1, 2, 4, 4})
                         .num_classes(1000)
                         .imagenet(true));
  const auto logits = net->forward(torch::randn({2, 3, 224, 224}));
  ASSERT_EQ(logits.size(), 5u);
  torch::Tensor loss = torch::zeros({});
  for (const auto& l : logits) {
    EXPECT_EQ(shape_text(l), "2x1000");
    loss = loss + torch::nn::functional::cross_entropy(l, torch::tensor({3, 999}));
  }
  loss.backward();
  for (const auto& p : net->parameters()) ASSERT_TRUE(p.grad().defined());
}

TEST(MSDNet, PruneMinAndEvenStepsBuildAndRun) {
  auto o = test::tiny_msdnet().prune(models::Prune::kMin).step_mode(models::StepMode::kEven).step(2).n_blocks(4);
  models::MSDNet net(o);
  EXPECT_EQ(net->block_lengths(), (std::vector<int64_t>{1, 2, 2, 2}));
  const auto logits = net->forward(torch::randn({2, 3, 32, 32}));
  EXPECT_EQ(logits.size(), 4u);
  // prune min keeps every scale until the end, with transitions at 1/3 and 2/3 of the layers.
  const auto state = io::state_dict(*net);
  EXPECT_NE(state.find("blocks.1.1.m.0.net.0.weight"), nullptr);
}

TEST(MSDNet, LinGrowBlockLengths) {
  models::MSDNet net(test::tiny_msdnet().n_blocks(5).step(2).base(3));
  EXPECT_EQ(net->block_lengths(), (std::vector<int64_t>{3, 3, 5, 7, 9}));
}

TEST(MSDNet, RejectsMismatchedFactorLists) {
  EXPECT_THROW(models::MSDNet(test::tiny_msdnet().bn_factor({1, 2})), std::invalid_argument);
}

TEST(MSDNet, BlockByBlockEqualsForward) {
  torch::manual_seed(0);
  models::MSDNet net(test::tiny_msdnet());
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({3, 3, 32, 32});
  const auto all = net->forward(x);
  models::Features f{x};
  for (int64_t k = 0; k < net->num_exits(); ++k) {
    f = net->run_block(k, f);
    EXPECT_TRUE(torch::equal(net->run_exit(k, f), all[k]));
  }
}

}  // namespace
}  // namespace l2w
