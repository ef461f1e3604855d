// Every kind of file l2w writes goes through one atomic writer: a process killed (SIGKILL) at random
// moments while it rewrites each kind leaves, every time, either the old file or the new one, byte for
// byte, never a torn one.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "l2w/dataset/image_decoding.h"
#include "l2w/dataset/validation_split.h"
#include "l2w/eval/anytime.h"
#include "l2w/eval/dynamic.h"
#include "l2w/infer/speed_table.h"
#include "l2w/io/checkpoint.h"
#include "l2w/io/exit_policy_file.h"
#include "l2w/io/numpy_file.h"
#include "l2w/io/thresholds_file.h"
#include "l2w/runtime/atomic_file.h"
#ifdef L2W_WITH_SERVER
#include "l2w/serve/budget_menu.h"
#endif
#include "test_util.h"

namespace l2w {
namespace {

namespace fs = std::filesystem;

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(missing)";
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Each kind of file, written by l2w's own writer in version 0 or 1 (large enough that a write takes a
// while: a kill often lands inside one).
struct Kind {
  std::string name;
  std::function<void(const std::string& path, int version)> write;
  bool appends = false;  // appends a line instead: whole lines only, however many
  bool made_when_missing = false;  // removed and made again: absent is a state it may be found in
};

const std::string kScoresLine = std::string(100000, 's') + "\n";

std::vector<Kind> kinds() {
  const auto big = [](int version) { return torch::full({1 << 18}, static_cast<float>(version + 1)); };
  std::vector<Kind> k;
  k.push_back({"checkpoint.pth.tar", [big](const std::string& p, int v) {
                 io::Checkpoint c;
                 c.epoch = v;
                 c.arch = "msdnet";
                 c.state_dict.insert("w", big(v));
                 io::save_checkpoint(c, p);
               }});
  k.push_back({"probs.npy", [big](const std::string& p, int v) { io::write_npy(p, big(v)); }});
  k.push_back({"thresholds.txt", [](const std::string& p, int v) {
                 io::ExitThresholds t;
                 t.thresholds.assign(20000, 0.5f + 0.25f * static_cast<float>(v));
                 t.exit_muladds.assign(20000, 7 + v);
                 io::write_thresholds(p, t);
               }});
  k.push_back({"exit_policy.txt", [](const std::string& p, int v) {
                 io::write_exit_policy(p, io::ExitPolicy{criterion::ExitCriterion::kMaxProb, v == 1});
               }});
  k.push_back({"anytime.csv", [](const std::string& p, int v) {
                 eval::write_anytime_csv(p, std::vector<eval::ExitMetrics>(20000, eval::ExitMetrics{1, 50.0 + v, 90}), {});
               }});
  k.push_back({"dynamic.txt", [](const std::string& p, int v) {
                 std::vector<eval::DynamicPoint> points(20000);
                 for (auto& point : points) point.test.accuracy = 60 + v;
                 eval::write_dynamic(p, points);
               }});
  k.push_back({"speed.tsv", [](const std::string& p, int v) {
                 infer::SpeedTable t;
                 t.budgets.resize(5000);
                 t.all.accuracy = 70 + v;
                 infer::write_speed_table(t, p);
               }});
  k.push_back({"valid_index.txt", [](const std::string& p, int v) {
                 fs::remove(p);  // made only when missing: it fixes the held-out images across resumes
                 dataset::load_or_make_split(p, 200000, 50000, static_cast<uint64_t>(v));
               },
               false, true});
  k.push_back({"scores.tsv", [](const std::string& p, int) { runtime::append_file_atomically(p, kScoresLine); }, true});
#ifdef L2W_WITH_IMAGES
  k.push_back({"image.png", [](const std::string& p, int v) {
                 dataset::RgbImage image{300, 300, std::vector<uint8_t>(300 * 300 * 3, static_cast<uint8_t>(v * 200))};
                 dataset::write_png(p, image);
               }});
  k.push_back({"image.jpg", [](const std::string& p, int v) {
                 dataset::RgbImage image{300, 300, std::vector<uint8_t>(300 * 300 * 3, static_cast<uint8_t>(v * 200))};
                 dataset::write_jpeg(p, image);
               }});
#endif
#ifdef L2W_WITH_SERVER
  k.push_back({"budgets.txt", [](const std::string& p, int v) {
                 serve::BudgetMenu menu;
                 menu.exit_muladds = {1, 2};
                 menu.full_muladds = 2;
                 menu.budgets.resize(5000);
                 for (auto& b : menu.budgets) b.thresholds = {0.5f + static_cast<float>(v), 0};
                 serve::write_budget_menu(p, menu);
               }});
#endif
  return k;
}

TEST(AtomicFile, AWriterKilledAtRandomMomentsLeavesTheOldOrTheNewFile) {
  const auto dir = test::temp_dir("atomic_writes");
  const auto all = kinds();
  std::vector<std::array<std::string, 2>> versions;  // each kind's two files, as written whole
  for (const auto& kind : all) {
    std::array<std::string, 2> both;
    for (int v : {0, 1}) {
      kind.write(dir + "/reference_" + kind.name, v);
      both[v] = contents(dir + "/reference_" + kind.name);
    }
    if (!kind.appends) ASSERT_NE(both[0], both[1]) << kind.name;
    versions.push_back(both);
  }
  std::mt19937 rng(11);
  int interrupted = 0;  // kills that landed inside a write (its temporary file left behind)
  for (int round = 0; round < 30; ++round) {
    const auto work = dir + "/round_" + std::to_string(round);
    fs::create_directories(work);
    for (const auto& kind : all) kind.write(work + "/" + kind.name, 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {  // rewrites every kind, alternating versions, until killed
      at::set_num_threads(1);  // the parent's OpenMP workers are not in the forked child
      for (int v = 1;; v ^= 1)
        for (const auto& kind : all) kind.write(work + "/" + kind.name, v);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(1000, 60000)(rng)));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    for (size_t i = 0; i < all.size(); ++i) {
      const auto now = contents(work + "/" + all[i].name);
      if (all[i].appends) {
        std::string whole;
        while (whole.size() < now.size()) whole += kScoresLine;
        EXPECT_EQ(now.size(), whole.size()) << all[i].name << " torn in round " << round;
        EXPECT_TRUE(now == whole) << all[i].name << " torn in round " << round;
      } else {
        EXPECT_TRUE(now == versions[i][0] || now == versions[i][1] || (all[i].made_when_missing && now == "(missing)"))
            << all[i].name << " torn in round " << round << " (" << now.size() << " bytes)";
      }
    }
    for (const auto& entry : fs::directory_iterator(work))
      if (entry.path().filename().string().find(".tmp") != std::string::npos) ++interrupted;
  }
  std::printf("%d of 30 kills landed inside a write\n", interrupted);
  EXPECT_GT(interrupted, 0) << "no kill interrupted a write: the test proved nothing";
}

}  // namespace
}  // namespace l2w
