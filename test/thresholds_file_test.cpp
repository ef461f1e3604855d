#include <fstream>
#include <limits>

#include <gtest/gtest.h>

#include "l2w/io/thresholds_file.h"
#include "test_util.h"

namespace l2w {
namespace {

TEST(ThresholdsFile, RoundTripsEveryFloat32Exactly) {
  const auto dir = test::temp_dir("thresholds");
  io::ExitThresholds t;
  const float inf = std::numeric_limits<float>::infinity();
  t.thresholds = {0.987654321f, 1.0f / 3.0f, std::nextafter(0.5f, 1.0f), inf, -inf};
  t.exit_muladds = {6859876, 14350024, 27536684, 41714576, 58480628};
  t.budget_muladds = 3e7;
  t.p_index = 17;
  t.valid_accuracy = 71.25;
  t.valid_expected_muladds = 29876543.25;
  io::write_thresholds(dir + "/t.txt", t);
  const auto back = io::read_thresholds(dir + "/t.txt");
  ASSERT_EQ(back.thresholds.size(), 5u);
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(back.thresholds[k], t.thresholds[k]) << "exit " << k + 1;
  EXPECT_EQ(back.exit_muladds, t.exit_muladds);
  EXPECT_EQ(back.p_index, 17);
  EXPECT_DOUBLE_EQ(back.budget_muladds, 3e7);
  EXPECT_DOUBLE_EQ(back.valid_accuracy, 71.25);
  EXPECT_DOUBLE_EQ(back.valid_expected_muladds, 29876543.25);
  EXPECT_TRUE(back.temperatures.empty());
}

TEST(ThresholdsFile, TemperaturesRoundTripAndBadOnesAreRefused) {
  const auto dir = test::temp_dir("thresholds_temperatures");
  io::ExitThresholds t;
  t.thresholds = {0.9f, -std::numeric_limits<float>::infinity()};
  t.exit_muladds = {10, 20};
  t.temperatures = {1.4213f, std::nextafter(0.75f, 1.0f)};
  io::write_thresholds(dir + "/t.txt", t);
  EXPECT_EQ(io::read_thresholds(dir + "/t.txt").temperatures, t.temperatures);
  for (const std::string bad : {"temperatures 1.5", "temperatures 1.5 0", "temperatures 1.5 inf", "temperatures 1 x"}) {
    std::ofstream(dir + "/bad.txt") << "l2w-thresholds 1\nexits 2\nexit 1 threshold 0.5 muladds 10\n"
                                    << "exit 2 threshold -inf muladds 20\n" << bad << "\n";
    EXPECT_THROW(io::read_thresholds(dir + "/bad.txt"), std::runtime_error) << bad;
  }
}

TEST(ThresholdsFile, MalformedFilesNameTheFileAndLine) {
  const auto dir = test::temp_dir("thresholds_bad");
  const auto expect_error = [&](const std::string& text, const std::string& fragment) {
    std::ofstream(dir + "/bad.txt") << text;
    try {
      io::read_thresholds(dir + "/bad.txt");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error("exits 1\nexit 1 threshold -inf muladds 5\n", "not an l2w thresholds file");
  expect_error("l2w-thresholds 1\nexits 2\nexit 1 threshold 0.5 muladds 5\n", "expected 2 exit lines, found 1");
  expect_error("l2w-thresholds 1\nexits 1\nexit 1 threshold maybe muladds 5\n", "bad.txt:3: bad threshold");
  expect_error("l2w-thresholds 1\ncolour blue\n", "bad.txt:2: unknown key");
  // A criterion from a later l2w (or a typo) is refused rather than compared as if it were max-prob.
  expect_error("l2w-thresholds 1\ncriterion patience-3\nexits 1\nexit 1 threshold -inf muladds 5\n",
               "bad.txt:2: exit criterion 'patience-3' is not one this l2w knows (max-prob, entropy, margin, patience)");
  EXPECT_THROW(io::read_thresholds(dir + "/missing.txt"), std::runtime_error);
}

TEST(ThresholdsFile, RecordsTheExitCriterionAndOlderFilesAreMaxProb) {
  const auto dir = test::temp_dir("thresholds_criterion");
  io::ExitThresholds t;
  t.criterion = criterion::ExitCriterion::kEntropy;
  t.thresholds = {-0.25f, -std::numeric_limits<float>::infinity()};
  t.exit_muladds = {10, 20};
  io::write_thresholds(dir + "/t.txt", t);
  EXPECT_EQ(io::read_thresholds(dir + "/t.txt").criterion, criterion::ExitCriterion::kEntropy);
  std::ofstream(dir + "/old.txt") << "l2w-thresholds 1\nexits 1\nexit 1 threshold -inf muladds 5\n";
  EXPECT_EQ(io::read_thresholds(dir + "/old.txt").criterion, criterion::ExitCriterion::kMaxProb);
}

TEST(ThresholdsFile, RecordsThePrecisionOlderFilesAreFp32AndOthersAreRefused) {
  const auto dir = test::temp_dir("thresholds_precision");
  io::ExitThresholds t;
  t.precision = "bf16";
  t.thresholds = {0.5f, -std::numeric_limits<float>::infinity()};
  t.exit_muladds = {10, 20};
  io::write_thresholds(dir + "/t.txt", t);
  EXPECT_EQ(io::read_thresholds(dir + "/t.txt").precision, "bf16");
  std::ofstream(dir + "/old.txt") << "l2w-thresholds 1\nexits 1\nexit 1 threshold -inf muladds 5\n";
  EXPECT_EQ(io::read_thresholds(dir + "/old.txt").precision, "fp32");
  std::ofstream(dir + "/fp16.txt") << "l2w-thresholds 1\nprecision fp16\nexits 1\nexit 1 threshold -inf muladds 5\n";
  try {
    io::read_thresholds(dir + "/fp16.txt");
    FAIL() << "fp16 accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("fp16.txt:2: expected 'precision fp32' or 'precision bf16'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace l2w
