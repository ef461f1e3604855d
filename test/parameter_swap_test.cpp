#include <gtest/gtest.h>

#include "l2w/models/msdnet.h"
#include "l2w/nn/parameter_swap.h"
#include "l2w/io/state_dict.h"
#include "test_util.h"

namespace l2w {
namespace {

// The identity of every parameter and buffer member (which tensor each points to), in order.
std::vector<const void*> members(torch::nn::Module& module) {
  std::vector<const void*> out;
  for (const auto& p : module.parameters()) out.push_back(p.unsafeGetTensorImpl());
  for (const auto& b : module.buffers()) out.push_back(b.unsafeGetTensorImpl());
  return out;
}

TEST(ParameterSwap, RunsTheSameForwardWithOtherParameters) {
  torch::manual_seed(5);
  models::MSDNet net(test::micro_msdnet());
  net->eval();
  const auto x = torch::randn({2, 1, 16, 16});
  std::vector<torch::Tensor> doubled;
  for (const auto& p : net->parameters()) doubled.push_back(p.detach() * 2);
  models::MSDNet copy(test::micro_msdnet());
  copy->eval();
  io::load_state_dict(*copy, io::state_dict(*net), "copy");
  {
    torch::NoGradGuard no_grad;
    for (auto& p : copy->parameters()) p.mul_(2);
  }
  torch::Tensor swapped;
  {
    nn::ParameterSwap swap(*net, doubled);
    swapped = net->forward(x).back();
  }
  EXPECT_TRUE(torch::allclose(swapped, copy->forward(x).back(), 1e-5, 1e-6));
  // Restored afterwards.
  EXPECT_FALSE(torch::allclose(net->forward(x).back(), swapped, 1e-5, 1e-6));
}

TEST(ParameterSwap, LeavesTheNetworkUnchangedWhenItFailsPartWay) {
  // The Linear layer comes first and is swappable; the LayerNorm after it is not supported.
  torch::nn::Sequential net(torch::nn::Linear(3, 4), torch::nn::LayerNorm(torch::nn::LayerNormOptions({4})));
  const auto before = members(*net);
  std::vector<torch::Tensor> replacements;
  for (const auto& p : net->parameters()) replacements.push_back(torch::zeros_like(p));
  EXPECT_THROW(nn::ParameterSwap(*net, replacements), std::logic_error);
  EXPECT_EQ(members(*net), before);
  // A wrong count is refused before anything happens too.
  replacements.pop_back();
  EXPECT_THROW(nn::ParameterSwap(*net, replacements), std::logic_error);
  EXPECT_EQ(members(*net), before);
}

TEST(PrivateBatchNormStatistics, DiscardsRunningStatisticsOfATrainModeForward) {
  torch::manual_seed(6);
  models::MSDNet net(test::micro_msdnet());
  net->train();
  torch::OrderedDict<std::string, torch::Tensor> before;  // copies: the state dict aliases the live tensors
  for (const auto& item : io::state_dict(*net)) before.insert(item.key(), item.value().clone());
  {
    nn::PrivateBatchNormStatistics private_statistics(*net);
    net->forward(torch::randn({4, 1, 16, 16}));
  }
  for (const auto& item : io::state_dict(*net))
    EXPECT_TRUE(torch::equal(item.value(), before[item.key()])) << item.key();
  // Without the guard the same forward updates them (so the check above can fail).
  net->forward(torch::randn({4, 1, 16, 16}));
  bool changed = false;
  for (const auto& item : io::state_dict(*net))
    changed = changed || !torch::equal(item.value(), before[item.key()]);
  EXPECT_TRUE(changed);
}

}  // namespace
}  // namespace l2w
