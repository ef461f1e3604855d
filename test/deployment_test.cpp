#include <algorithm>

#include <gtest/gtest.h>

#include "l2w/infer/deployment.h"
#include "l2w/infer/thread_policy.h"
#include "l2w/models/exit_cost.h"
#include "test_util.h"

namespace l2w {
namespace {

models::MultiExitNetwork deployed_tiny_msdnet() {
  torch::manual_seed(0);
  return std::make_shared<models::MSDNetImpl>(test::tiny_msdnet());
}

TEST(Deployment, ALaterLayoutMustBeMoreThanThreePercentFaster) {
  EXPECT_EQ(infer::faster_layout({10.0}), 0u);
  EXPECT_EQ(infer::faster_layout({10.0, 9.8}), 0u);  // within 3%: the first stays
  EXPECT_EQ(infer::faster_layout({10.0, 9.6}), 1u);
  EXPECT_EQ(infer::faster_layout({10.0, 11.0}), 0u);
  EXPECT_EQ(infer::faster_layout({10.0, 9.6, 9.5}), 1u);  // 9.5 is within 3% of 9.6
  EXPECT_EQ(infer::faster_layout({10.0, 9.6, 9.0}), 2u);
}

TEST(Deployment, DeployCountsCostsAndFoldsBatchNorm) {
  auto net = deployed_tiny_msdnet();
  const auto expected = models::exit_costs(*net, {3, 32, 32});
  const auto m = infer::deploy(net, {3, 32, 32}, torch::kCPU, {});
  ASSERT_EQ(m.costs.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_EQ(m.costs[k].muladds, expected[k].muladds);
  // Without early exits the earlier heads are not run: cheaper than the last exit's cumulative cost.
  EXPECT_GT(m.last_exit_only_muladds, expected.front().muladds);
  EXPECT_LT(m.last_exit_only_muladds, expected.back().muladds);
  EXPECT_GT(m.form.folded_batch_norms, 0);
  EXPECT_GT(m.form.pointwise_convs, 0);  // MSDNet's bottlenecks and transitions
  EXPECT_FALSE(m.net->is_training());
  EXPECT_EQ(m.image_shape, (std::vector<int64_t>{1, 3, 32, 32}));
  const auto as_trained = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU,
                                        infer::DeploymentOptions().training_form(true));
  EXPECT_EQ(as_trained.form.folded_batch_norms, 0);
  EXPECT_EQ(as_trained.form.pointwise_convs, 0);
}

TEST(Deployment, PinnedLayoutAndThreadsAreKept) {
  const int threads = at::get_num_threads();
  const auto options =
      infer::DeploymentOptions().layout(infer::Layout::kChannelsLast).choose_latency_threads(false);
  auto m = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU, options);
  const auto plan = infer::plan_deployment(m, options, torch::kCPU);
  EXPECT_EQ(m.form.input_format, torch::MemoryFormat::ChannelsLast);
  EXPECT_EQ(plan.throughput_threads, threads);
  EXPECT_EQ(plan.latency_threads, threads);
  EXPECT_NE(plan.network.find("channels_last (as asked)"), std::string::npos) << plan.network;
  EXPECT_EQ(at::get_num_threads(), threads);
}

TEST(Deployment, AutomaticLayoutTimesBothAndLeavesTheNetworkInTheChosenOne) {
  auto m = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU, {});
  const auto plan = infer::plan_deployment(m, {}, torch::kCPU);
  EXPECT_NE(plan.network.find("contiguous"), std::string::npos) << plan.network;
  EXPECT_NE(plan.network.find("channels_last"), std::string::npos) << plan.network;
  EXPECT_NE(plan.threads.find("for batch-1 latency, the fastest measured"), std::string::npos) << plan.threads;
  const auto counts = infer::thread_counts_to_try(at::get_num_threads());
  EXPECT_NE(std::find(counts.begin(), counts.end(), plan.latency_threads), counts.end());
  // The network's 4-D weights are in the layout its inputs will be given in.
  const bool channels_last = m.form.input_format == torch::MemoryFormat::ChannelsLast;
  for (const auto& p : m.net->parameters()) {
    if (p.dim() != 4 || p.size(2) * p.size(3) == 1) continue;
    EXPECT_EQ(p.is_contiguous(torch::MemoryFormat::ChannelsLast), channels_last);
  }
}

// For throughput at a batch, the layout is chosen by the whole network's time at that batch; both
// batch sizes' figures are reported.
TEST(Deployment, ThroughputBatchChoosesTheLayoutByItsOwnTime) {
  const auto options = infer::DeploymentOptions().throughput_batch(16).choose_latency_threads(false);
  auto m = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU, options);
  const auto plan = infer::plan_deployment(m, options, torch::kCPU);
  EXPECT_NE(plan.network.find("the faster layout measured (whole network at batch 16: contiguous "),
            std::string::npos) << plan.network;
  EXPECT_NE(plan.network.find("; at batch 1: contiguous "), std::string::npos) << plan.network;
  const bool channels_last = m.form.input_format == torch::MemoryFormat::ChannelsLast;
  EXPECT_NE(plan.network.find(channels_last ? "convolutions as matrix products, channels_last"
                                            : "convolutions as matrix products, contiguous"),
            std::string::npos) << plan.network;
  for (const auto& p : m.net->parameters())
    if (p.dim() == 4 && p.size(2) * p.size(3) > 1)
      EXPECT_EQ(p.is_contiguous(torch::MemoryFormat::ChannelsLast), channels_last);
}

}  // namespace
}  // namespace l2w
