#include <gtest/gtest.h>

#include "l2w/models/exit_cost.h"
#include "l2w/models/msdnet.h"

namespace l2w {
namespace {

models::MSDNetOptions seed_cifar(int64_t classes) {
  return models::MSDNetOptions().n_blocks(5).n_channels(16).growth_rate(6).base(1).step(1).num_classes(classes);
}

void expect_costs(models::MSDNetOptions o, const std::vector<int64_t>& flops, const std::vector<int64_t>& params) {
  models::MSDNet net(o);
  const auto costs = models::exit_costs(*net, {3, 32, 32});
  ASSERT_EQ(costs.size(), flops.size());
  for (size_t k = 0; k < costs.size(); ++k) {
    EXPECT_EQ(costs[k].muladds, flops[k]) << "exit " << k + 1;
    EXPECT_EQ(costs[k].params, params[k]) << "exit " << k + 1;
  }
}

TEST(ExitCost, SeedCifar100Vector) {
  expect_costs(seed_cifar(100), {6859876, 14350024, 27536684, 41714576, 58480628},
               {299704, 649740, 1018308, 1492424, 2078924});
}

TEST(ExitCost, SeedCifar10Vector) {
  expect_costs(seed_cifar(10), {6848266, 14326804, 27501854, 41668136, 58422578},
               {288094, 626520, 983478, 1445984, 2020874});
}

TEST(ExitCost, TinyCifar10Vector) {
  expect_costs(seed_cifar(10).n_blocks(3).n_channels(8).growth_rate(4), {3036426, 6372372, 9744158},
               {216330, 429148, 660086});
}

TEST(ExitCost, CountingLeavesTheNetworkUnchanged) {
  models::MSDNet net(seed_cifar(10).n_blocks(2));
  net->train();
  const auto before = net->named_buffers()["blocks.0.0.layers.0.net.1.running_mean"].clone();
  models::exit_costs(*net, {3, 32, 32});
  EXPECT_TRUE(net->is_training());
  EXPECT_TRUE(torch::equal(before, net->named_buffers()["blocks.0.0.layers.0.net.1.running_mean"]));
}

}  // namespace
}  // namespace l2w
