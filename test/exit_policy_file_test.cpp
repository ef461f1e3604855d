#include <fstream>

#include <gtest/gtest.h>

#include "l2w/io/exit_policy_file.h"
#include "test_util.h"

namespace l2w {
namespace {

TEST(ExitPolicyFile, RoundTripsAndReadsTheEarlierOneLineForm) {
  const auto dir = test::temp_dir("exit_policy");
  EXPECT_FALSE(io::read_exit_policy(dir + "/none.txt"));
  io::write_exit_policy(dir + "/p.txt", {criterion::ExitCriterion::kEntropy, true});
  const auto back = io::read_exit_policy(dir + "/p.txt");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->criterion, criterion::ExitCriterion::kEntropy);
  EXPECT_TRUE(back->calibrated);
  EXPECT_EQ(io::describe(*back), "entropy, calibrated");
  std::ofstream(dir + "/old.txt") << "margin\n";
  const auto old = io::read_exit_policy(dir + "/old.txt");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->criterion, criterion::ExitCriterion::kMargin);
  EXPECT_FALSE(old->calibrated);
  std::ofstream(dir + "/bad.txt") << "l2w-exit-policy 1\ncriterion loudest\n";
  try {
    io::read_exit_policy(dir + "/bad.txt");
    ADD_FAILURE() << "an unknown criterion was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.txt"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace l2w
