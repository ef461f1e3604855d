#include <algorithm>
#include <cstdio>

#include <gtest/gtest.h>

#include "l2w/infer/deployment.h"
#include "l2w/infer/early_exit_classifier.h"
#include "l2w/nn/channels_last_conv.h"
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

// bf16: weights and activations in bfloat16, decisions in float32; close to float32's answers.
TEST(Deployment, Bf16DeploysInBf16AndDecidesInFloat32) {
  const auto options =
      infer::DeploymentOptions().precision(runtime::Precision::kBf16).choose_latency_threads(false).layout(infer::Layout::kContiguous);
  auto m = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU, options);
  auto reference = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU,
                                 infer::DeploymentOptions(options).precision(runtime::Precision::kFp32));
  EXPECT_EQ(m.precision.dtype, torch::kBFloat16);
  // Every weight in bf16 but the exits' last Linear layers, kept in float32 with their trained values.
  const auto trained = reference.net->named_parameters();
  for (const auto& p : m.net->named_parameters()) {
    const bool head = p.key().find(".linear.") != std::string::npos;
    EXPECT_EQ(p.value().scalar_type(), head ? torch::kFloat32 : torch::kBFloat16) << p.key();
    if (head) EXPECT_TRUE(torch::equal(p.value(), trained[p.key()])) << p.key();
  }
  const auto plan = infer::plan_deployment(m, options, torch::kCPU);
  EXPECT_EQ(plan.precision.rfind("bf16 (as asked", 0), 0u) << plan.precision;
  torch::manual_seed(1);
  const auto images = torch::randn({8, 3, 32, 32});
  infer::EarlyExitClassifier engine(m.net, infer::never_exit(m.net->num_exits()), m.form.input_format);
  infer::EarlyExitClassifier fp32(reference.net, infer::never_exit(reference.net->num_exits()));
  const auto logits = engine.full_logits(images);
  const auto expected = fp32.full_logits(images);
  EXPECT_EQ(logits.scalar_type(), torch::kFloat32);
  EXPECT_LT((logits - expected).abs().max().item<double>(), 0.1 * expected.abs().max().item<double>() + 0.05);
  EXPECT_GT((logits - expected).abs().max().item<double>(), 0.0);  // it did run in bfloat16
  const auto d = engine.classify(images);
  EXPECT_EQ(d.confidence.scalar_type(), torch::kFloat32);
}

// auto on a CPU with AVX512-BF16 but no AMX times both and keeps the faster, the other's weights put back
// exactly; with AMX it is bf16, without either fp32.
TEST(Deployment, AutoPrecisionFollowsTheHardwareOrTheMeasurement) {
  const auto support = runtime::bf16_support(torch::kCPU);
  const auto choice = runtime::choose_precision(runtime::Precision::kAuto, torch::kCPU);
  EXPECT_EQ(choice.measure, support.hardware == runtime::Bf16Hardware::kVector);
  EXPECT_EQ(choice.dtype, support.hardware == runtime::Bf16Hardware::kMatrix ? torch::kBFloat16 : torch::kFloat32);
  EXPECT_EQ(runtime::choose_precision(runtime::Precision::kFp32, torch::kCPU).dtype, torch::kFloat32);
  if (!choice.measure) GTEST_SKIP() << "this CPU: " << support.name;
  const auto options = infer::DeploymentOptions().choose_latency_threads(false).layout(infer::Layout::kContiguous);
  auto m = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU, options);
  auto reference = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU,
                                 infer::DeploymentOptions(options).precision(runtime::Precision::kFp32));
  const auto plan = infer::plan_deployment(m, options, torch::kCPU);
  EXPECT_NE(plan.precision.find("the faster measured: whole network at batch 1: fp32 "), std::string::npos)
      << plan.precision;
  const auto params = m.net->parameters();
  for (const auto& p : m.net->named_parameters())
    if (p.key().find(".linear.") == std::string::npos) EXPECT_EQ(p.value().scalar_type(), m.precision.dtype) << p.key();
  if (m.precision.dtype == torch::kFloat32) {
    const auto expected = reference.net->parameters();
    for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i], expected[i]));
  }
}

// In NCHW on a CPU, each convolution gets the layout measured faster for it at batch 1; the answers stay
// the network's.
TEST(Deployment, EachConvolutionGetsItsFasterLayoutAtBatch1) {
  const auto options =
      infer::DeploymentOptions().layout(infer::Layout::kContiguous).precision(runtime::Precision::kFp32).choose_latency_threads(false);
  auto m = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU, options);
  auto uniform = infer::deploy(deployed_tiny_msdnet(), {3, 32, 32}, torch::kCPU, options);
  const auto plan = infer::plan_deployment(m, options, torch::kCPU);
  const auto uniform_plan = infer::plan_deployment(uniform, infer::DeploymentOptions(options).uniform_conv_layout(true),
                                                   torch::kCPU);
  EXPECT_NE(plan.network.find("; at batch 1, "), std::string::npos) << plan.network;
  EXPECT_NE(plan.network.find(" convolutions in channels_last, the faster measured for them (all convolutions "),
            std::string::npos) << plan.network;
  EXPECT_EQ(uniform_plan.network.find("at batch 1"), std::string::npos) << uniform_plan.network;
  // As many convolutions run channels_last at batch 1 as the report says; the state_dict keys stay.
  int64_t reported = -1, switched = 0;
  std::sscanf(plan.network.c_str() + plan.network.find("at batch 1, "), "at batch 1, %ld of", &reported);
  for (const auto& module : m.net->modules()) switched += dynamic_cast<nn::ChannelsLastConvImpl*>(module.get()) != nullptr;
  EXPECT_EQ(switched, reported);
  EXPECT_EQ(m.net->named_parameters().keys(), uniform.net->named_parameters().keys());
  torch::manual_seed(2);
  const auto image = torch::randn({1, 3, 32, 32});
  const auto logits = infer::EarlyExitClassifier(m.net, infer::never_exit(m.net->num_exits())).full_logits(image);
  const auto expected = infer::EarlyExitClassifier(uniform.net, infer::never_exit(m.net->num_exits())).full_logits(image);
  EXPECT_LT((logits - expected).abs().max().item<double>(), 1e-4 * (1 + expected.abs().max().item<double>()));
}

TEST(Deployment, SavedWeightsComeBackExactlyAfterACast) {
  auto net = deployed_tiny_msdnet();
  const auto saved = runtime::SavedWeights::of(*net);
  runtime::cast_floating(*net, torch::kBFloat16);
  for (const auto& b : net->named_buffers()) {
    const bool counter = b.key().find("num_batches_tracked") != std::string::npos;
    EXPECT_EQ(b.value().scalar_type(), counter ? torch::kLong : torch::kBFloat16) << b.key();
  }
  saved.restore(*net);
  const auto again = runtime::SavedWeights::of(*net);
  ASSERT_EQ(again.tensors.size(), saved.tensors.size());
  for (size_t i = 0; i < saved.tensors.size(); ++i) EXPECT_TRUE(torch::equal(again.tensors[i], saved.tensors[i]));
}

}  // namespace
}  // namespace l2w
