#include <gtest/gtest.h>

#include "l2w/infer/early_exit_classifier.h"
#include "l2w/infer/inference_form.h"
#include "l2w/nn/batch_norm_folding.h"
#include "test_util.h"

namespace l2w {
namespace {

// Trained-looking BatchNorms: statistics and affine parameters far from their initial 0 and 1, so that a
// fold that ignored any of them would be seen.
void randomize_batch_norms(torch::nn::Module& net) {
  torch::NoGradGuard no_grad;
  for (const auto& m : net.modules()) {
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) {
      bn->running_mean.normal_(0, 0.5);
      bn->running_var.uniform_(0.3, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.normal_(0, 0.3);
    }
  }
}

int64_t batch_norm_count(torch::nn::Module& net) {
  int64_t n = 0;
  for (const auto& m : net.modules()) n += dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get()) != nullptr;
  return n;
}

// Two networks with the same weights and statistics, the second in inference form.
template <typename Net, typename Options>
std::pair<models::MultiExitNetwork, models::MultiExitNetwork> trained_and_inference_form(
    const Options& options, const infer::InferenceFormOptions& form_options, torch::Dtype dtype = torch::kFloat32) {
  torch::manual_seed(5);
  auto trained = std::make_shared<Net>(options);
  randomize_batch_norms(*trained);
  auto deployed = std::make_shared<Net>(options);
  {
    torch::NoGradGuard no_grad;
    const auto from = trained->named_parameters();
    for (auto& p : deployed->named_parameters()) p.value().copy_(from[p.key()]);
    const auto stats = trained->named_buffers();
    for (auto& b : deployed->named_buffers()) b.value().copy_(stats[b.key()]);
  }
  trained->to(dtype);
  deployed->to(dtype);
  trained->eval();
  const int64_t batch_norms = batch_norm_count(*deployed);
  const auto form = infer::to_inference_form(*deployed, form_options);
  EXPECT_EQ(form.folded_batch_norms, batch_norms);
  EXPECT_EQ(batch_norm_count(*deployed), 0);
  return {trained, deployed};
}

// Largest difference between the two networks' logits over every exit, relative to the logits' scale.
double largest_relative_difference(models::MultiExitNetworkImpl& a, models::MultiExitNetworkImpl& b,
                                   const torch::Tensor& images, torch::MemoryFormat format) {
  c10::InferenceMode inference;
  const auto expected = a.forward(images);
  const auto actual = b.forward(images.contiguous(format));
  EXPECT_EQ(expected.size(), actual.size());
  double worst = 0;
  for (size_t k = 0; k < expected.size(); ++k) {
    const double scale = std::max(1.0, expected[k].abs().max().item<double>());
    worst = std::max(worst, (expected[k] - actual[k]).abs().max().item<double>() / scale);
  }
  return worst;
}

// The inference form in each layout against the trained network, on the same images.
template <typename Net, typename Options>
void expect_outputs_within_1e5_in_both_layouts(const Options& options) {
  for (bool channels_last : {false, true}) {
    auto [trained, deployed] =
        trained_and_inference_form<Net>(options, infer::InferenceFormOptions().channels_last(channels_last));
    const auto format = channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
    EXPECT_LT(largest_relative_difference(*trained, *deployed, torch::randn({8, 3, 32, 32}), format), 1e-5)
        << "channels_last " << channels_last;
  }
}

TEST(InferenceForm, MSDNetComputesTheTrainedNetworksOutputsWithin1e5) {
  expect_outputs_within_1e5_in_both_layouts<models::MSDNetImpl>(test::tiny_msdnet());
}

TEST(InferenceForm, RANetComputesTheTrainedNetworksOutputsWithin1e5) {
  expect_outputs_within_1e5_in_both_layouts<models::RANetImpl>(test::small_ranet());
}

// In float64 the fold is the same function up to rounding: it leaves out nothing of the BatchNorm.
TEST(InferenceForm, FoldIsExactUpToRoundingInFloat64) {
  auto [msd_trained, msd_deployed] =
      trained_and_inference_form<models::MSDNetImpl>(test::tiny_msdnet(), {}, torch::kFloat64);
  const auto images = torch::randn({4, 3, 32, 32}, torch::kFloat64);
  EXPECT_LT(largest_relative_difference(*msd_trained, *msd_deployed, images, torch::MemoryFormat::Contiguous), 1e-12);
  auto [ra_trained, ra_deployed] =
      trained_and_inference_form<models::RANetImpl>(test::small_ranet(), {}, torch::kFloat64);
  EXPECT_LT(largest_relative_difference(*ra_trained, *ra_deployed, images, torch::MemoryFormat::Contiguous), 1e-12);
}

// The ImageNet stem is a Sequential of its own (conv, BatchNorm, ReLU, max-pool): folded too.
TEST(InferenceForm, FoldsEveryBatchNormOfTheImageNetMSDNet) {
  auto net = std::make_shared<models::MSDNetImpl>(test::tiny_msdnet(3, 1000).imagenet(true).gr_factor({1, 2, 4, 4})
                                                      .bn_factor({1, 2, 4, 4}));
  const int64_t batch_norms = batch_norm_count(*net);
  EXPECT_GT(batch_norms, 0);
  EXPECT_EQ(infer::to_inference_form(*net).folded_batch_norms, batch_norms);
  c10::InferenceMode inference;
  const auto logits = net->forward(torch::randn({1, 3, 224, 224}));
  EXPECT_EQ(logits.back().size(1), 1000);
}

TEST(InferenceForm, EngineTakesTheSameExitsAsWithTheTrainedNetwork) {
  auto [trained, deployed] =
      trained_and_inference_form<models::MSDNetImpl>(test::tiny_msdnet(), infer::InferenceFormOptions().channels_last(true));
  const auto images = torch::randn({64, 3, 32, 32});
  // Each exit's median confidence as its threshold: about half the images leave at the first exit.
  std::vector<float> thresholds;
  {
    c10::InferenceMode inference;
    for (const auto& logits : trained->forward(images))
      thresholds.push_back(std::get<0>(torch::softmax(logits, 1).max(1)).median().item<float>());
  }
  const auto expected = infer::EarlyExitClassifier(trained, thresholds).classify(images);
  const auto actual =
      infer::EarlyExitClassifier(deployed, thresholds, torch::MemoryFormat::ChannelsLast).classify(images);
  EXPECT_TRUE(torch::equal(expected.exit_index, actual.exit_index));
  EXPECT_TRUE(torch::equal(expected.prediction, actual.prediction));
  EXPECT_TRUE(torch::allclose(expected.confidence, actual.confidence, 1e-5, 1e-6));
  // Both exits before the last were taken by some images, so the comparison covers compaction.
  EXPECT_GT(expected.exit_index.eq(0).sum().item<int64_t>(), 0);
  EXPECT_GT(expected.exit_index.eq(1).sum().item<int64_t>(), 0);
}

TEST(BatchNormFolding, RefusesABatchNormWithoutRunningStatistics) {
  torch::nn::Sequential seq(torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3).bias(false)),
                            torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(3).track_running_stats(false)));
  EXPECT_THROW(nn::fold_batch_norms(*seq), std::invalid_argument);
}

}  // namespace
}  // namespace l2w
