#include <map>

#include <gtest/gtest.h>

#include "l2w/criterion/exit_allocation.h"
#include "l2w/eval/dynamic.h"
#include "l2w/infer/deployment.h"
#include "l2w/infer/stagewise_classifier.h"
#include "l2w/models/imta_network.h"
#include "test_util.h"

namespace l2w {
namespace {

// A network that records the batch size of every block it runs, around another.
class StagewiseRecordingNetworkImpl : public models::MultiExitNetworkImpl {
 public:
  explicit StagewiseRecordingNetworkImpl(models::MultiExitNetwork inner) : inner_(register_module("inner", std::move(inner))) {}
  int64_t num_exits() const override { return inner_->num_exits(); }
  models::Features run_block(int64_t k, const models::Features& in) override {
    block_batches[k].push_back(in.front().size(0));
    return inner_->run_block(k, in);
  }
  torch::Tensor run_exit(int64_t k, const models::Features& features) override { return inner_->run_exit(k, features); }
  std::string arch() const override { return inner_->arch(); }
  std::map<int64_t, std::vector<int64_t>> block_batches;

 private:
  models::MultiExitNetwork inner_;
};

// A network whose exit k's logits are slice k of its input ([N, classes, exits]): each image's predictions
// and scores at every exit are the test's choice.
class LogitTableNetworkImpl : public models::MultiExitNetworkImpl {
 public:
  explicit LogitTableNetworkImpl(int64_t exits) : exits_(exits) { register_parameter("unused", torch::zeros({1})); }
  int64_t num_exits() const override { return exits_; }
  models::Features run_block(int64_t, const models::Features& in) override { return {in.front() * 1.0}; }
  torch::Tensor run_exit(int64_t k, const models::Features& features) override { return features.front().select(2, k); }
  std::string arch() const override { return "logit-table"; }

 private:
  int64_t exits_;
};

// Float64, so that the different batches the two engines form cannot move a score across a threshold.
models::MultiExitNetwork in_float64(models::MultiExitNetwork net) {
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.mul_(1.5);  // exits that disagree in confidence: every exit is taken
  }
  net->to(torch::kDouble);
  net->eval();
  return net;
}

struct NamedNetwork {
  std::string name;
  models::MultiExitNetwork net;
};

std::vector<NamedNetwork> networks() {
  torch::manual_seed(21);
  auto msdnet = std::make_shared<models::MSDNetImpl>(test::tiny_msdnet());
  auto ranet = std::make_shared<models::RANetImpl>(test::small_ranet());
  auto imta = models::ImtaNetwork(std::make_shared<models::MSDNetImpl>(test::tiny_msdnet()), 10);
  return {{"MSDNet", in_float64(msdnet)}, {"RANet", in_float64(ranet)}, {"IMTA", in_float64(imta.ptr())}};
}

// Thresholds fitted on other images to spread them over the exits (the sweep's middle budget).
std::vector<float> spreading_thresholds(models::MultiExitNetworkImpl& net, criterion::ExitCriterion by) {
  if (by == criterion::ExitCriterion::kPatience) return criterion::patience_thresholds(net.num_exits(), 1);
  torch::NoGradGuard no_grad;
  const auto valid = torch::randn({96, 3, 32, 32}, torch::kDouble);
  eval::ExitOutputs outputs{net.forward(valid), torch::zeros({96}, torch::kLong)};
  return eval::find_thresholds(eval::exit_confidences(outputs, by).confidence,
                               criterion::target_proportions(15, net.num_exits()));
}

// The stream in batches of `batch` through the stage-wise engine of a network with `exits` exits, the last
// batch partial.
infer::ExitDecisions stream(infer::StagewiseClassifier& engine, const torch::Tensor& images, int64_t batch,
                            int64_t exits) {
  for (int64_t from = 0; from < images.size(0); from += batch) {
    engine.push(images.slice(0, from, std::min(from + batch, images.size(0))));
    EXPECT_LT(engine.waiting(), engine.batch_size() * exits) << "more than a batch waits before a block";
  }
  return engine.finish();
}

void expect_same_decisions(const infer::ExitDecisions& stagewise, const infer::ExitDecisions& per_batch) {
  ASSERT_EQ(stagewise.exit_index.size(0), per_batch.exit_index.size(0));
  for (int64_t i = 0; i < per_batch.exit_index.size(0); ++i) {
    ASSERT_EQ(stagewise.exit_index[i].item<int64_t>(), per_batch.exit_index[i].item<int64_t>()) << "image " << i;
    ASSERT_EQ(stagewise.prediction[i].item<int64_t>(), per_batch.prediction[i].item<int64_t>()) << "image " << i;
    ASSERT_NEAR(stagewise.confidence[i].item<float>(), per_batch.confidence[i].item<float>(), 1e-6) << "image " << i;
  }
}

// Image for image, the stage-wise engine takes the exits and gives the answers of the per-batch engine,
// for batch sizes that do and do not divide the data set, and one larger than it.
TEST(StagewiseClassifier, AnswersAndExitsEqualThePerBatchEngines) {
  const auto images = torch::randn({50, 3, 32, 32}, torch::kDouble);
  for (auto& [name, net] : networks()) {
    SCOPED_TRACE(name);
    infer::EarlyExitClassifier engine(net, spreading_thresholds(*net, criterion::ExitCriterion::kMaxProb));
    const auto expected = engine.classify(images);
    std::vector<int64_t> used(size_t(net->num_exits()), 0);
    for (int64_t i = 0; i < 50; ++i) ++used[size_t(expected.exit_index[i].item<int64_t>())];
    for (int64_t k = 0; k < net->num_exits(); ++k) EXPECT_GT(used[size_t(k)], 0) << "nobody left at exit " << k;
    for (const int64_t batch : {7, 10, 64}) {
      SCOPED_TRACE("batch " + std::to_string(batch));
      infer::StagewiseClassifier stagewise(engine, batch);
      expect_same_decisions(stream(stagewise, images, batch, net->num_exits()), expected);
      EXPECT_EQ(stagewise.waiting(), 0);
    }
  }
}

// Patience carries each image's previous prediction and score while it waits in another batch: images
// whose exits agree for a while and images whose exits keep changing their minds, mixed in every batch.
TEST(StagewiseClassifier, CarriedCriterionStateTravelsWithEachImage) {
  torch::manual_seed(5);
  const int64_t n = 90, classes = 4, exits = 5;
  auto logits = torch::randn({n, classes, exits});
  const auto agreeing = torch::randint(2, {n}, torch::kBool);
  const auto favourite = torch::randint(classes, {n}, torch::kLong);
  // An agreeing image favours one class from a random exit on; the others draw a new favourite per exit.
  for (int64_t i = 0; i < n; ++i) {
    const int64_t from = agreeing[i].item<bool>() ? torch::randint(exits, {1}).item<int64_t>() : exits;
    for (int64_t k = 0; k < exits; ++k) {
      const int64_t c = k >= from ? favourite[i].item<int64_t>() : torch::randint(classes, {1}).item<int64_t>();
      logits[i][c][k] += 4.0;
    }
  }
  auto net = std::make_shared<LogitTableNetworkImpl>(exits);
  for (const int64_t patience : {1, 2}) {
    SCOPED_TRACE("patience " + std::to_string(patience));
    infer::EarlyExitClassifier engine(net, criterion::patience_thresholds(exits, patience),
                                      torch::MemoryFormat::Contiguous, criterion::ExitCriterion::kPatience);
    const auto expected = engine.classify(logits);
    EXPECT_GT(expected.exit_index.lt(exits - 1).sum().item<int64_t>(), 10);  // many leave early,
    EXPECT_GT(expected.exit_index.eq(exits - 1).sum().item<int64_t>(), 10);  // many do not
    infer::StagewiseClassifier stagewise(engine, 8);
    expect_same_decisions(stream(stagewise, logits, 8, exits), expected);
  }
  // The other criteria on a real network.
  const auto images = torch::randn({45, 3, 32, 32}, torch::kDouble);
  auto msdnet = networks().front().net;
  for (const auto by : criterion::all_exit_criteria()) {
    SCOPED_TRACE(criterion::exit_criterion_name(by));
    infer::EarlyExitClassifier engine(msdnet, spreading_thresholds(*msdnet, by), torch::MemoryFormat::Contiguous, by);
    infer::StagewiseClassifier stagewise(engine, 8);
    expect_same_decisions(stream(stagewise, images, 8, msdnet->num_exits()), engine.classify(images));
  }
}

// Every block runs at the batch size but for one remainder per block when the stream ends; pushes of any
// size are regrouped; and the engine starts a new stream after finish().
TEST(StagewiseClassifier, EveryBlockRunsFullBatchesButOneRemainder) {
  auto recording = std::make_shared<StagewiseRecordingNetworkImpl>(networks().front().net);
  infer::EarlyExitClassifier engine(recording, spreading_thresholds(*recording, criterion::ExitCriterion::kMaxProb));
  const auto images = torch::randn({70, 3, 32, 32}, torch::kDouble);
  const auto expected = engine.classify(images);
  recording->block_batches.clear();
  infer::StagewiseClassifier stagewise(engine, 16);
  for (const auto& [from, to] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 40}, {40, 41}, {41, 70}})
    stagewise.push(images.slice(0, from, to));
  expect_same_decisions(stagewise.finish(), expected);
  for (const auto& [block, sizes] : recording->block_batches) {
    SCOPED_TRACE("block " + std::to_string(block));
    ASSERT_FALSE(sizes.empty());
    for (size_t i = 0; i + 1 < sizes.size(); ++i) EXPECT_EQ(sizes[i], 16);
    EXPECT_LE(sizes.back(), 16);
  }
  // A second stream through the same engine: the decisions of its own images, numbered from 0.
  expect_same_decisions(stream(stagewise, images.slice(0, 0, 20), 16, recording->num_exits()),
                        engine.classify(images.slice(0, 0, 20)));
}

// Thresholds no score reaches before the last exit: nobody would wait between blocks, so each pushed
// batch runs the network whole at once, with the per-batch engine's answers.
TEST(StagewiseClassifier, WithoutEarlyExitsEachBatchRunsWholeAtOnce) {
  auto recording = std::make_shared<StagewiseRecordingNetworkImpl>(networks().front().net);
  infer::EarlyExitClassifier engine(recording, infer::never_exit(recording->num_exits()));
  const auto images = torch::randn({10, 3, 32, 32}, torch::kDouble);
  const auto expected = engine.classify(images);
  infer::StagewiseClassifier stagewise(engine, 4);
  stagewise.push(images.slice(0, 0, 3));
  EXPECT_EQ(stagewise.waiting(), 0);
  stagewise.push(images.slice(0, 3, 10));
  expect_same_decisions(stagewise.finish(), expected);
  EXPECT_TRUE(torch::equal(expected.exit_index, torch::full({10}, recording->num_exits() - 1, torch::kLong)));
  for (const auto& [block, sizes] : recording->block_batches) EXPECT_EQ(sizes, (std::vector<int64_t>{10, 3, 7}));
}

TEST(StagewiseClassifier, AnEmptyStreamHasNoDecisions) {
  auto net = networks().front().net;
  infer::EarlyExitClassifier engine(net, infer::never_exit(net->num_exits()));
  infer::StagewiseClassifier stagewise(engine, 4);
  EXPECT_EQ(stagewise.finish().exit_index.size(0), 0);
  EXPECT_THROW(infer::StagewiseClassifier(engine, 0), std::invalid_argument);
}

}  // namespace
}  // namespace l2w
