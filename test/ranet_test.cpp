#include <gtest/gtest.h>

#include "l2w/eval/dynamic.h"
#include "l2w/criterion/exit_allocation.h"
#include "l2w/infer/early_exit_classifier.h"
#include "l2w/models/exit_cost.h"
#include "l2w/models/ranet.h"
#include "l2w/io/state_dict.h"
#include "test_util.h"

namespace l2w {
namespace {

// The reference's per-exit MUL-ADDs and parameters for a RANet on CIFAR-10.
models::RANetOptions spec_ranet() {
  return models::RANetOptions()
      .n_blocks(2)
      .n_channels(16)
      .growth_rate(6)
      .step(4)
      .scale_list({1, 2, 3, 3})
      .gr_factor({4, 2, 1, 1})
      .bn_factor({4, 2, 1, 1})
      .block_step(2)
      .compress_factor(0.25)
      .reduction(0.5)
      .num_classes(10);
}

TEST(RANet, SpecCifar10Vector) {
  models::RANet net(spec_ranet());
  const auto costs = models::exit_costs(*net, {3, 32, 32});
  std::vector<int64_t> flops, params;
  for (const auto& c : costs) {
    flops.push_back(c.muladds);
    params.push_back(c.params);
  }
  EXPECT_EQ(flops, (std::vector<int64_t>{15814410, 31283220, 44655390, 50358312, 60654578, 63647996, 90173958, 94904592}));
  EXPECT_EQ(params, (std::vector<int64_t>{470442, 1073780, 1476756, 1868414, 2165612, 2453494, 2871636, 3261830}));
}

TEST(RANet, ReferenceModuleNames) {
  models::RANet net(spec_ranet());
  const auto keys = io::state_dict(*net);
  for (const char* key : {"FirstLayer.layers.0.net.0.weight", "FirstLayer.layers.3.net.1.running_var",
                          "scale_flows.0.0.layers.0.conv_normal.net.0.weight", "scale_flows.1.1.trans.net.0.weight",
                          "scale_flows.1.0.layers.3.conv_up.net.3.weight", "scale_flows.1.1.conv_last.net.0.weight",
                          "scale_flows.3.7.layers.3.conv_normal.net.4.num_batches_tracked",
                          "classifier.0.m.0.net.0.weight", "classifier.7.linear.bias"})
    EXPECT_TRUE(keys.contains(key)) << key;
  EXPECT_EQ(net->num_exits(), 8);
}

TEST(RANet, ExitShapesFor28And32AndImageNetInputs) {
  for (auto [channels, size, classes, imagenet] :
       {std::tuple{1, 28, 10, false}, std::tuple{3, 32, 100, false}, std::tuple{3, 224, 1000, true}}) {
    auto o = test::small_ranet(channels, classes).imagenet(imagenet);
    // ImageNet: four flows from 56x56 down to 7x7 so that the heads end at 1x1.
    if (imagenet) o.scale_list({1, 2, 3, 4}).gr_factor({4, 2, 2, 1}).bn_factor({4, 2, 2, 1});
    models::RANet net(o);
    torch::NoGradGuard no_grad;
    net->eval();
    const auto logits = net->forward(torch::randn({2, channels, size, size}));
    ASSERT_EQ(static_cast<int64_t>(logits.size()), net->num_exits());
    for (const auto& l : logits) EXPECT_EQ(l.sizes(), torch::IntArrayRef({2, classes}));
  }
}

TEST(RANet, GrowingStepsAndTheBackwardPass) {
  models::RANet net(test::small_ranet().step_grows(true));
  const auto logits = net->forward(torch::randn({1, 3, 32, 32}));
  torch::Tensor loss = torch::zeros({});
  for (const auto& l : logits) loss = loss + l.pow(2).mean();
  loss.backward();
  for (const auto& p : net->parameters()) ASSERT_TRUE(p.grad().defined());
  EXPECT_THROW(models::RANet(test::small_ranet().scale_list({1, 2})), std::invalid_argument);
}

TEST(RANet, EarlyExitInferenceCompactsEveryFeatureOfTheFlows) {
  torch::manual_seed(3);
  auto net = std::make_shared<models::RANetImpl>(test::small_ranet());
  net->eval();
  const auto valid = torch::randn({64, 3, 32, 32}), test = torch::randn({48, 3, 32, 32});
  torch::NoGradGuard no_grad;
  eval::ExitOutputs v{net->forward(valid), torch::zeros({64}, torch::kLong)};
  eval::ExitOutputs t{net->forward(test), torch::zeros({48}, torch::kLong)};
  const auto thresholds =
      eval::find_thresholds(eval::exit_confidences(v).confidence, criterion::target_proportions(20, net->num_exits()));
  const auto expected = eval::exit_of_each_sample(eval::exit_confidences(t), thresholds);
  infer::EarlyExitClassifier engine(net, thresholds);
  const auto decisions = engine.classify(test);
  for (int64_t i = 0; i < 48; ++i) {
    const int64_t k = decisions.exit_index[i].item<int64_t>();
    ASSERT_EQ(k, expected[i]) << i;
    EXPECT_EQ(decisions.prediction[i].item<int64_t>(), t.logits[k][i].argmax().item<int64_t>());
  }
}

}  // namespace
}  // namespace l2w
