#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "l2w/dataset/data_sets.h"
#include "l2w/meta/l2w_step.h"
#include "l2w/train/trainer.h"
#include "test_util.h"

namespace l2w {
namespace {

struct Run {
  models::MultiExitNetwork net;
  train::TrainResult result;
};

dataset::DataSplits small_fashion_mnist() {
  return dataset::load_data({"fashion-mnist", "", 1024, 500});
}

Run train_tiny(const std::string& dir, int64_t stop_after, const dataset::DataSplits& data) {
  models::NetworkOptions arch;
  arch.msdnet(test::tiny_msdnet(1, 10));
  torch::manual_seed(5);
  auto net = models::make_network(arch);
  train::TrainerOptions o;
  o.run_dir(dir);
  o.epochs(2);
  o.batch_size(64);
  o.schedule().base_lr = 0.1;
  o.seed(11);
  o.quiet(true);
  o.stop_after(stop_after);
  o.workers(2);
  auto result = train::Trainer(net, arch, data, o, [](models::MultiExitNetworkImpl& n, train::Sgd& sgd, distributed::DataParallel*) {
    return std::make_unique<train::PlainStep>(n, sgd, 0.0);
  }).run();
  return {net, result};
}

TEST(Trainer, ResumeAfterAnInterruptionEqualsAnUninterruptedRun) {
  if (!std::filesystem::exists(L2W_FASHION_MNIST)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto data = small_fashion_mnist();
  const auto straight_dir = test::temp_dir("straight");
  const auto straight = train_tiny(straight_dir, 0, data);
  EXPECT_EQ(straight.result.epochs_run, 2);

  const auto resumed_dir = test::temp_dir("resumed");
  const auto first = train_tiny(resumed_dir, 1, data);
  EXPECT_EQ(first.result.epochs_run, 1);
  // A kill while writing the next checkpoint leaves a temporary file; the last good one stays.
  std::ofstream(resumed_dir + "/save_models/checkpoint_002.pth.tar.tmp123") << "partial";
  const auto second = train_tiny(resumed_dir, 0, data);  // fresh network, resumes from latest.txt
  EXPECT_EQ(second.result.epochs_run, 1);

  const auto a = io::state_dict(*straight.net);
  const auto b = io::state_dict(*second.net);
  for (const auto& item : a) EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();

  // The run folder: two score rows, checkpoints, best, flops, anytime results.
  std::ifstream scores(resumed_dir + "/scores.tsv");
  std::string line;
  int rows = 0;
  while (std::getline(scores, line)) ++rows;
  EXPECT_EQ(rows, 3);
  for (const char* f : {"/save_models/checkpoint_001.pth.tar", "/save_models/checkpoint_002.pth.tar",
                        "/save_models/model_best.pth.tar", "/flops.tsv", "/anytime.csv"})
    EXPECT_TRUE(std::filesystem::exists(resumed_dir + f)) << f;
  EXPECT_EQ(io::read_flops(resumed_dir + "/flops.tsv").size(), 3u);
  // It learns: better than chance at every exit after two short epochs.
  for (const auto& m : second.result.last_test) EXPECT_GT(m.top1, 45.0);
}

}  // namespace
}  // namespace l2w

namespace l2w {
namespace {

TEST(Trainer, ShortL2WRunLowersMetaAndTrainingLoss) {
  if (!std::filesystem::exists(L2W_FASHION_MNIST)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto data = dataset::load_data({"fashion-mnist", "", 256, 200});
  models::NetworkOptions arch;
  arch.msdnet(test::tiny_msdnet(1, 10));
  torch::manual_seed(5);
  auto net = models::make_network(arch);
  train::TrainerOptions o;
  o.run_dir(test::temp_dir("l2w_run"));
  o.epochs(2);
  o.batch_size(64);
  o.schedule().base_lr = 0.1;
  o.quiet(true);
  train::Trainer(net, arch, data, o, [](models::MultiExitNetworkImpl& n, train::Sgd& sgd, distributed::DataParallel*) {
    meta::MetaOptions m(n.num_exits());
    m.wpn().hidden_size(64);
    m.meta_lr(1e-3);
    return std::unique_ptr<train::TrainStep>(new meta::L2WStep(n, sgd, m));
  }).run();
  std::ifstream scores(o.run_dir() + "/scores.tsv");
  std::string header, row1, row2;
  std::getline(scores, header);
  std::getline(scores, row1);
  std::getline(scores, row2);
  auto column = [&](const std::string& row, const std::string& name) {
    std::istringstream h(header), r(row);
    std::string hn, value;
    while (std::getline(h, hn, '\t') && std::getline(r, value, '\t')) {
      if (hn == name) return std::stod(value);
    }
    ADD_FAILURE() << "no column " << name;
    return 0.0;
  };
  EXPECT_LT(column(row2, "meta_loss"), column(row1, "meta_loss"));
  EXPECT_LT(column(row2, "train_loss_3"), column(row1, "train_loss_3"));
  EXPECT_GT(column(row1, "meta_lr"), 0.0);
  // The epoch's per-sample records (the last 20 epochs are all recorded).
  for (const char* f : {"losses", "confidences", "weights"})
    EXPECT_TRUE(std::filesystem::exists(o.run_dir() + "/per_sample/epoch_002_" + std::string(f) + ".tsv")) << f;
  // Resuming restores the WPN and its optimizer.
  const auto c = io::load_checkpoint(o.run_dir() + "/save_models/checkpoint_002.pth.tar");
  EXPECT_FALSE(c.meta_state_dict.is_empty());
  EXPECT_TRUE(c.meta_optimizer.isGenericDict());
}

}  // namespace
}  // namespace l2w
