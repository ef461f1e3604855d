#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "l2w/io/state_dict.h"
#include "l2w/io/torch_save_writer.h"
#include "l2w/train/run_checkpoints.h"
#include "test_util.h"

namespace l2w {
namespace {

namespace fs = std::filesystem;

struct CheckpointedRun {
  models::NetworkOptions arch;
  models::MultiExitNetwork net;
  std::unique_ptr<train::Sgd> sgd;
  std::unique_ptr<train::PlainStep> step;
  explicit CheckpointedRun(uint64_t seed) {
    arch.msdnet(test::micro_msdnet());
    torch::manual_seed(seed);
    net = models::make_network(arch);
    sgd = std::make_unique<train::Sgd>(net->parameters(), train::SgdOptions());
    step = std::make_unique<train::PlainStep>(*net, *sgd, 0.0);
  }
  io::Checkpoint checkpoint(int64_t epoch) const {
    io::Checkpoint c;
    c.epoch = epoch;
    c.arch = net->arch();
    c.config = models::describe(arch);
    c.state_dict = io::state_dict(*net);
    c.optimizer = sgd->state_dict();
    c.best_prec1 = 10.0 * double(epoch);
    return c;
  }
};

io::EpochProgress mid_epoch_progress(int64_t iteration) {
  io::EpochProgress p;
  p.iteration = iteration;
  p.meters = torch::arange(6, torch::kFloat64).view({1, 6});
  p.per_sample = {torch::ones({4, 2}), torch::zeros({4, 2})};
  return p;
}

bool parameters_equal(models::MultiExitNetworkImpl& a, models::MultiExitNetworkImpl& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  for (size_t i = 0; i < pa.size(); ++i)
    if (!torch::equal(pa[i], pb[i])) return false;
  return true;
}

TEST(RunCheckpoints, LatestNamesTheNewestAndASupersededMidEpochCheckpointGoes) {
  CheckpointedRun run(0);
  io::RunFolder folder(test::temp_dir("run_checkpoints_latest"));
  folder.create();
  train::RunCheckpoints checkpoints(folder, run.arch, {}, nullptr);
  auto inside = run.checkpoint(1);
  inside.within_epoch = mid_epoch_progress(3);
  const auto inside_path = checkpoints.save(inside);
  EXPECT_EQ(inside_path, folder.checkpoint_within_epoch(1, 3));
  EXPECT_EQ(folder.latest_checkpoint(), inside_path);
  const auto end_path = checkpoints.save(run.checkpoint(2));
  EXPECT_EQ(end_path, folder.checkpoint(2));
  EXPECT_EQ(folder.latest_checkpoint(), end_path);
  EXPECT_FALSE(fs::exists(inside_path));
}

TEST(RunCheckpoints, ResumeRestoresTheTypedMidEpochState) {
  CheckpointedRun written(1);
  io::RunFolder folder(test::temp_dir("run_checkpoints_resume"));
  folder.create();
  auto c = written.checkpoint(4);
  c.within_epoch = mid_epoch_progress(7);
  train::RunCheckpoints(folder, written.arch, {}, nullptr).save(c);

  CheckpointedRun resumed(2);
  ASSERT_FALSE(parameters_equal(*written.net, *resumed.net));
  train::RunCheckpoints checkpoints(folder, resumed.arch, train::RunCheckpointsOptions().quiet(true), nullptr);
  const auto start = checkpoints.resume(*resumed.net, *resumed.sgd, *resumed.step);
  EXPECT_TRUE(parameters_equal(*written.net, *resumed.net));
  EXPECT_EQ(start.epoch, 4);
  EXPECT_EQ(start.iteration(), 7);
  EXPECT_DOUBLE_EQ(start.best_prec1, 40.0);
  ASSERT_TRUE(start.within_epoch.has_value());
  EXPECT_TRUE(torch::equal(start.within_epoch->meters, mid_epoch_progress(7).meters));
  ASSERT_EQ(start.within_epoch->per_sample.size(), 2u);
  EXPECT_TRUE(torch::equal(start.within_epoch->per_sample[0], torch::ones({4, 2})));
  // The next epoch-end checkpoint supersedes the one resumed from.
  checkpoints.save(written.checkpoint(5));
  EXPECT_FALSE(fs::exists(folder.checkpoint_within_epoch(4, 7)));
}

TEST(RunCheckpoints, ADamagedNewestCheckpointFallsBackAndAnotherArchitectureIsRefused) {
  CheckpointedRun written(1);
  io::RunFolder folder(test::temp_dir("run_checkpoints_damaged"));
  folder.create();
  train::RunCheckpoints writer(folder, written.arch, {}, nullptr);
  writer.save(written.checkpoint(1));
  writer.save(written.checkpoint(2));
  fs::resize_file(folder.checkpoint(2), 100);
  CheckpointedRun resumed(2);
  const auto start = train::RunCheckpoints(folder, resumed.arch, train::RunCheckpointsOptions().quiet(true), nullptr)
                         .resume(*resumed.net, *resumed.sgd, *resumed.step);
  EXPECT_EQ(start.epoch, 1);
  EXPECT_FALSE(start.within_epoch.has_value());

  auto other = resumed.arch;
  other.msdnet().n_blocks(3);
  CheckpointedRun wider(3);
  EXPECT_THROW(train::RunCheckpoints(folder, other, train::RunCheckpointsOptions().quiet(true), nullptr)
                   .resume(*wider.net, *wider.sgd, *wider.step),
               io::CheckpointError);
}

TEST(RunCheckpoints, FineTuningTakesTheWeightsOnly) {
  CheckpointedRun written(1);
  const auto path = test::temp_dir("run_checkpoints_finetune") + "/weights.pth.tar";
  io::save_checkpoint(written.checkpoint(9), path);
  io::RunFolder folder(test::temp_dir("run_checkpoints_fresh"));
  folder.create();
  CheckpointedRun fresh(2);
  const auto start =
      train::RunCheckpoints(folder, fresh.arch, train::RunCheckpointsOptions().finetune_from(path).quiet(true), nullptr)
          .resume(*fresh.net, *fresh.sgd, *fresh.step);
  EXPECT_TRUE(parameters_equal(*written.net, *fresh.net));
  EXPECT_EQ(start.epoch, 0);
  EXPECT_DOUBLE_EQ(start.best_prec1, 0.0);
}

dataset::SplitOptions split_options(bool use_valid, int64_t num_valid, uint64_t seed, std::string adopt_from = "") {
  dataset::SplitOptions o;
  o.use_valid = use_valid;
  o.num_valid = num_valid;
  o.seed = seed;
  o.adopt_from = std::move(adopt_from);
  return o;
}

TEST(RunCheckpoints, TheHeldOutSplitIsDrawnOnceAndReadBack) {
  CheckpointedRun run(0);
  io::RunFolder folder(test::temp_dir("run_checkpoints_split"));
  folder.create();
  train::RunCheckpoints checkpoints(folder, run.arch, {}, nullptr);
  const auto first = checkpoints.split(100, split_options(true, 10, 5));
  EXPECT_EQ(first.valid.size(), 10u);
  EXPECT_EQ(first.train.size(), 90u);
  EXPECT_TRUE(fs::exists(folder.valid_index()));
  const auto again = checkpoints.split(100, split_options(true, 10, 99));  // another seed: the saved subset wins
  EXPECT_EQ(again.valid, first.valid);
  const auto all = checkpoints.split(100, split_options(false, 10, 5));
  EXPECT_TRUE(all.train.empty() && all.valid.empty());
}

// IMTA's second stage holds out its first stage's images whatever its own seed, and refuses another count.
TEST(RunCheckpoints, ASecondStageAdoptsItsFirstStagesHeldOutSplit) {
  CheckpointedRun run(0);
  io::RunFolder stage1(test::temp_dir("run_checkpoints_stage1")), stage2(test::temp_dir("run_checkpoints_stage2"));
  stage1.create();
  stage2.create();
  const auto drawn = train::RunCheckpoints(stage1, run.arch, {}, nullptr).split(100, split_options(true, 10, 5));
  EXPECT_EQ(io::run_folder_of_checkpoint(stage1.checkpoint(3)).valid_index(), stage1.valid_index());
  train::RunCheckpoints second(stage2, run.arch, {}, nullptr);
  try {
    second.split(100, split_options(true, 20, 7, stage1.valid_index()));
    ADD_FAILURE() << "another count was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("num_sample_valid: 20 disagrees with the 10 samples held out in " +
                                         stage1.valid_index()),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(stage2.valid_index()));
  const auto adopted = second.split(100, split_options(true, 10, 7, stage1.valid_index()));
  EXPECT_EQ(adopted.valid, drawn.valid);
  EXPECT_EQ(adopted.train, drawn.train);
  EXPECT_TRUE(fs::exists(stage2.valid_index()));  // evaluation of the second stage reads its own folder
  // Without a first-stage index (a first stage trained without --use_valid), the second stage draws its own.
  io::RunFolder stage3(test::temp_dir("run_checkpoints_stage3"));
  stage3.create();
  const auto own = train::RunCheckpoints(stage3, run.arch, {}, nullptr)
                       .split(100, split_options(true, 10, 7, stage3.dir() + "/missing/valid_index.txt"));
  EXPECT_EQ(own.valid.size(), 10u);
}

TEST(RunCheckpoints, ADamagedMidEpochStateIsRefused) {
  CheckpointedRun run(0);
  const auto path = test::temp_dir("run_checkpoints_state") + "/c.pth.tar";
  auto c = run.checkpoint(1);
  c.within_epoch = mid_epoch_progress(2);
  io::save_checkpoint(c, path);
  EXPECT_EQ(io::load_checkpoint(path).within_epoch->iteration, 2);
  // The same file with an iteration but an epoch_state that is not the dictionary l2w writes.
  c10::impl::GenericDict state_dict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& item : io::state_dict(*run.net)) state_dict.insert(item.key(), item.value());
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  d.insert("epoch", int64_t{1});
  d.insert("state_dict", state_dict);
  d.insert("iteration", int64_t{2});
  d.insert("epoch_state", std::string("not a dictionary"));
  std::ofstream(path, std::ios::binary) << io::torch_save_bytes(d);
  try {
    io::load_checkpoint(path);
    ADD_FAILURE() << "a damaged epoch_state was accepted";
  } catch (const io::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("epoch_state is damaged"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace l2w
