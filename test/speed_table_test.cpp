#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "l2w/infer/speed_table.h"
#include "l2w/infer/thread_policy.h"
#include "test_util.h"

namespace l2w {
namespace {

std::shared_ptr<const dataset::ImageDataset> random_images(int64_t n) {
  auto data = std::make_shared<dataset::ImageDataset>();
  data->images = torch::randint(256, {n, 3, 32, 32}, torch::kUInt8);
  data->labels = torch::randint(10, {n}, torch::kLong);
  data->num_classes = 10;
  data->mean = {0.5f, 0.5f, 0.5f};
  data->std = {0.25f, 0.25f, 0.25f};
  return data;
}

struct Measured {
  infer::DeployedNetwork m;
  infer::SpeedTable table;
};

// Three thresholds sets: everyone leaves at exit 1, nobody early, and a middle one.
Measured measure_tiny() {
  torch::manual_seed(3);
  const auto data = random_images(24);
  models::MultiExitNetwork net = std::make_shared<models::MSDNetImpl>(test::tiny_msdnet());
  const auto options = infer::DeploymentOptions().layout(infer::Layout::kContiguous).choose_latency_threads(false);
  Measured out{infer::deploy(net, {3, 32, 32}, torch::kCPU, options), {}};
  const auto plan = infer::plan_deployment(out.m, options, torch::kCPU);
  infer::TestLoaders test{dataset::BatchLoader(data, {}, dataset::LoaderOptions().batch_size(8)),
                          infer::first_images_one_at_a_time(data, 5, false)};
  const float inf = std::numeric_limits<float>::infinity();
  out.table = infer::measure_speed(out.m, test, {{-inf, -inf, -inf}, {inf, inf, inf}, {0.2f, 0.3f, 0.0f}},
                                   torch::kCPU, plan);
  return out;
}

TEST(SpeedTable, RowsHoldTheEnginesAccuracyCostAndTimes) {
  const auto [m, t] = measure_tiny();
  EXPECT_EQ(t.images, 24);
  EXPECT_EQ(t.latency_images, 5);
  ASSERT_EQ(t.budgets.size(), 3u);
  // Every exit computed and the last exit only classify alike; so does a budget nobody leaves early.
  EXPECT_EQ(t.all.accuracy, t.last.accuracy);
  EXPECT_EQ(t.budgets[1].accuracy, t.all.accuracy);
  EXPECT_EQ(t.all.muladds, double(m.costs.back().muladds));
  EXPECT_EQ(t.last.muladds, double(m.last_exit_only_muladds));
  EXPECT_EQ(t.budgets[0].muladds, double(m.costs.front().muladds));
  EXPECT_EQ(t.budgets[1].muladds, double(m.costs.back().muladds));
  EXPECT_EQ(t.budgets[0].exits_taken.find("24"), t.budgets[0].exits_taken.find_first_of("0123456789"));
  for (const auto* row : {&t.all, &t.last, &t.budgets[0], &t.budgets[1], &t.budgets[2]}) {
    EXPECT_GT(row->images_per_s, 0.0);
    EXPECT_GT(row->mean_ms, 0.0);
    EXPECT_LE(row->p50_ms, row->p99_ms);
  }
  // Batch-1 latencies by exit: exit 1 only, when everyone leaves there.
  ASSERT_EQ(t.budgets[0].latency_ms_by_exit.size(), 3u);
  EXPECT_EQ(t.budgets[0].latency_ms_by_exit[0].size(), 5u);
  EXPECT_TRUE(t.budgets[0].latency_ms_by_exit[2].empty());
}

TEST(SpeedTable, HeadlineRowsAreMediansOfInterleavedRounds) {
  const auto [m, t] = measure_tiny();
  // The half budget: the set whose cost is nearest half the whole network's.
  const double half = 0.5 * double(m.costs.back().muladds);
  for (const auto& row : t.budgets)
    EXPECT_LE(std::abs(t.budgets[t.half].muladds - half), std::abs(row.muladds - half));
  for (const auto* rounds : {&t.all_rounds, &t.last_rounds, &t.half_rounds})
    EXPECT_EQ(rounds->size(), size_t(infer::kHeadlineRounds));
  EXPECT_EQ(t.all.images_per_s, infer::percentile(t.all_rounds, 50));
  EXPECT_EQ(t.last.images_per_s, infer::percentile(t.last_rounds, 50));
  EXPECT_EQ(t.budgets[t.half].images_per_s, infer::percentile(t.half_rounds, 50));
  EXPECT_GT(t.batch_profile.total(), 0.0);
  EXPECT_GE(t.decisions_ms, 0.0);
}

// Each budget is compared with whole-network passes timed around it; the bound is the speed-up the
// whole network's own time per block and exit allows: 1 when nobody leaves early, 1/(exit 1's share) when
// everyone leaves at exit 1.
TEST(SpeedTable, EachBudgetsSpeedUpIsAgainstTheWholeNetworkTimedBesideIt) {
  const auto [m, t] = measure_tiny();
  EXPECT_EQ(t.whole_passes.size(), t.budgets.size() + 1);
  for (const auto& row : t.budgets) {
    EXPECT_GT(row.whole_images_per_s, 0.0);
    EXPECT_DOUBLE_EQ(row.speed_up(), row.images_per_s / row.whole_images_per_s);
    EXPECT_DOUBLE_EQ(row.efficiency(t.all.muladds), row.speed_up() * row.muladds / t.all.muladds);
  }
  ASSERT_EQ(t.stage_share.size(), 3u);
  double total = 0;
  for (const double share : t.stage_share) {
    EXPECT_GT(share, 0.0);
    total += share;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_NEAR(t.budgets[0].bound_speed_up, 1.0 / t.stage_share[0], 1e-9);
  EXPECT_NEAR(t.budgets[1].bound_speed_up, 1.0, 1e-9);
  // The middle set: each image pays the shares of the blocks up to its exit.
  const auto& counts = t.budgets[2].exit_counts;
  ASSERT_EQ(counts.size(), 3u);
  const double time = double(counts[0]) * t.stage_share[0] + double(counts[1]) * (t.stage_share[0] + t.stage_share[1]) +
                      double(counts[2]);
  EXPECT_NEAR(t.budgets[2].bound_speed_up, double(counts[0] + counts[1] + counts[2]) / time, 1e-9);
  const auto* least = infer::least_efficient(t, t.all.muladds, 0.0);
  ASSERT_NE(least, nullptr);
  for (const auto& row : t.budgets) EXPECT_LE(least->efficiency(t.all.muladds), row.efficiency(t.all.muladds));
  EXPECT_EQ(infer::least_efficient(t, t.all.muladds, 2.0), nullptr);  // no budget costs twice the whole network
}

TEST(SpeedTable, WrittenAsOneLinePerRow) {
  const auto [m, t] = measure_tiny();
  const auto path = test::temp_dir("speed_table") + "/infer_bench.tsv";
  infer::write_speed_table(t, path);
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> names;
  std::getline(in, line);
  EXPECT_EQ(line.rfind("p_index\ttop1\tmuladds\t", 0), 0u);
  while (std::getline(in, line)) names.push_back(line.substr(0, line.find('\t')));
  EXPECT_EQ(names, (std::vector<std::string>{"all", "last", "1", "2", "3"}));
  EXPECT_THROW(infer::write_speed_table(t, "/nonexistent/dir/x.tsv"), std::runtime_error);
}

TEST(SpeedTable, NoThresholdsIsRefused) {
  torch::manual_seed(0);
  const auto data = random_images(4);
  auto m = infer::deploy(std::make_shared<models::MSDNetImpl>(test::tiny_msdnet()), {3, 32, 32}, torch::kCPU, {});
  infer::TestLoaders test{dataset::BatchLoader(data, {}, dataset::LoaderOptions().batch_size(2)),
                          infer::first_images_one_at_a_time(data, 2, false)};
  EXPECT_THROW(infer::measure_speed(m, test, {}, torch::kCPU, infer::Deployment()), std::invalid_argument);
}

}  // namespace
}  // namespace l2w
