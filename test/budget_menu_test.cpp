#include <fstream>

#include <gtest/gtest.h>

#include "l2w/serve/budget_menu.h"
#include "test_util.h"

namespace l2w {
namespace {

eval::ExitConfidences random_confidences(int64_t exits, int64_t n) {
  torch::manual_seed(3);
  eval::ExitConfidences c;
  c.confidence = torch::rand({exits, n});
  c.correct = torch::rand({exits, n}).lt(torch::linspace(0.5, 0.9, exits).unsqueeze(1));
  return c;
}

std::vector<nn::Cost> costs_of(std::vector<int64_t> muladds) {
  std::vector<nn::Cost> costs;
  for (const auto m : muladds) costs.push_back({m, 0});
  return costs;
}

TEST(BudgetMenu, CheapestFirstEndingWithTheFullNetwork) {
  const auto valid = random_confidences(3, 400);
  const auto menu = serve::fit_budget_menu(valid, costs_of({100, 250, 400}), 300);
  ASSERT_GE(menu.budgets.size(), 2u);
  for (size_t b = 1; b < menu.budgets.size(); ++b)
    EXPECT_LE(menu.budgets[b - 1].valid_expected_muladds, menu.budgets[b].valid_expected_muladds);
  for (size_t b = 0; b + 1 < menu.budgets.size(); ++b) {
    EXPECT_LT(menu.budgets[b].valid_expected_muladds, 300);  // dearer than the full network: left out
    const auto r = eval::evaluate_with_thresholds(valid, menu.budgets[b].thresholds, costs_of({100, 250, 400}));
    EXPECT_DOUBLE_EQ(r.expected_muladds, menu.budgets[b].valid_expected_muladds);
    EXPECT_DOUBLE_EQ(r.accuracy, menu.budgets[b].valid_accuracy);
  }
  const auto& full = menu.budgets.back();
  EXPECT_TRUE(menu.is_full(menu.budgets.size() - 1));
  EXPECT_EQ(full.valid_expected_muladds, 300);
  EXPECT_NEAR(full.valid_accuracy, 100 * valid.correct[2].to(torch::kFloat64).mean().item<double>(), 1e-9);
  EXPECT_EQ(menu.at_most(1e9), menu.budgets.size() - 1);
  EXPECT_EQ(menu.at_most(menu.budgets[0].valid_expected_muladds), 0u);
  EXPECT_THROW(menu.at_most(menu.budgets[0].valid_expected_muladds - 1), std::invalid_argument);
}

TEST(BudgetMenu, FileRoundTripsExactlyAndRefusesDamage) {
  const auto dir = test::temp_dir("budget_menu");
  const auto menu = serve::fit_budget_menu(random_confidences(3, 300), costs_of({100, 250, 400}), 300);
  serve::write_budget_menu(dir + "/budgets.txt", menu);
  const auto back = serve::read_budget_menu(dir + "/budgets.txt");
  EXPECT_EQ(back.exit_muladds, menu.exit_muladds);
  EXPECT_EQ(back.full_muladds, 300);
  ASSERT_EQ(back.budgets.size(), menu.budgets.size());
  for (size_t b = 0; b < menu.budgets.size(); ++b) {
    EXPECT_EQ(back.budgets[b].thresholds, menu.budgets[b].thresholds);  // bit-exact floats
    EXPECT_EQ(back.budgets[b].p_index, menu.budgets[b].p_index);
  }
  const auto refused = [&](const std::string& text, const std::string& why) {
    std::ofstream(dir + "/bad.txt") << text;
    try {
      serve::read_budget_menu(dir + "/bad.txt");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  };
  refused("criterion max-prob\n", "not an l2w budget menu");
  refused("l2w-budgets 1\ncriterion confidence\n", "exit criterion 'confidence'");
  refused("l2w-budgets 1\nexit_muladds 1 2\nfull_muladds 2\nbudget 0 valid_accuracy 1 valid_expected_muladds 2 thresholds inf\n",
          "one threshold per exit");
  refused("l2w-budgets 1\nexit_muladds 1 2\nfull_muladds 2\nbudget 3 valid_accuracy 1 valid_expected_muladds 1 thresholds 0.5 -inf\n",
          "ending with the full network");
  refused("l2w-budgets 1\nexit_muladds 1 2\nfull_muladds 2\nbudget 0 valid_accuracy 1 valid_expected_muladds 2 thresholds nan -inf\n",
          "bad threshold");
  EXPECT_THROW(serve::read_budget_menu(dir + "/missing.txt"), std::runtime_error);
}

}  // namespace
}  // namespace l2w
