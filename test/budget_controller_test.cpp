#include <algorithm>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "l2w/serve/budget_controller.h"

namespace l2w {
namespace {

// Three budgets: the cheapest costs a third of the full network per image.
std::vector<serve::ServiceTime> three_budgets() { return {{0.001, 0.0001}, {0.001, 0.0002}, {0.001, 0.0003}}; }

serve::ControllerOptions controller_options() {
  return serve::ControllerOptions().slo_s(0.05).max_batch(32).max_wait_s(0.002);
}

TEST(ArrivalRate, ConvergesToASteadyRateAndDecaysWhenArrivalsStop) {
  serve::ArrivalRate rate(0.5);
  for (int i = 0; i < 2000; ++i) rate.add(i * 0.001, 1);  // 1000 per second for 2 s
  EXPECT_NEAR(rate.at(1.999), 1000, 30);
  EXPECT_LT(rate.at(4.0), 20);  // two seconds later, four windows: e^-4
}

TEST(BudgetController, PicksTheLargestBudgetThatKeepsUpAndMeetsTheTarget) {
  serve::BudgetController c(three_budgets(), controller_options());
  // Per image in a full batch: 0.13, 0.23, 0.33 ms; at 70 % utilisation: 5385, 3043, 2121 images/s.
  EXPECT_EQ(c.choose(1, 0), 2u);
  EXPECT_EQ(c.choose(1, 2000), 2u);
  EXPECT_EQ(c.choose(1, 2500), 1u);
  EXPECT_EQ(c.choose(1, 4000), 0u);
  EXPECT_EQ(c.choose(1, 1e6), 0u);  // nothing keeps up: the cheapest
  // A queue whose last image would wait longer than half the target at the full budget: 200 images at
  // 0.33 ms each is 66 ms (plus batches' fixed costs); at the cheapest, 20 + 7 + 2 ms.
  EXPECT_NEAR(c.predicted_latency_s(2, 200), 0.002 + 6 * (0.001 + 32 * 0.0003) + (0.001 + 8 * 0.0003), 1e-12);
  EXPECT_EQ(c.choose(200, 0), 0u);
  EXPECT_EQ(c.choose(80, 0), 1u);  // 29 ms at the full budget, 21 ms at the middle one
}

TEST(BudgetController, AMeasuredSlowdownLowersTheBudgetAndAPinnedOneNeverMoves) {
  serve::BudgetController c(three_budgets(), controller_options());
  EXPECT_EQ(c.choose(1, 2000), 2u);
  for (int i = 0; i < 50; ++i) c.observe(2, 32, 2 * three_budgets()[2].of(32));  // the machine runs at half speed
  EXPECT_NEAR(c.drift(), 2.0, 0.02);
  EXPECT_EQ(c.choose(1, 2000), 0u);
  serve::BudgetController pinned(three_budgets(), controller_options().pinned(2));
  EXPECT_EQ(pinned.choose(10000, 1e6), 2u);
  EXPECT_THROW(serve::BudgetController(three_budgets(), controller_options().pinned(3)), std::invalid_argument);
}

// A simulated server: Poisson arrivals of single images (phases of given rates and durations), one worker
// that batches as the queue does (whatever is waiting, up to max_batch, after at most max_wait),
// deterministic batch times.
struct Simulated {
  double p99_s = 0;
  std::vector<int64_t> budget_batches;          // batches run at each budget
  std::vector<std::pair<double, size_t>> runs;  // each batch's start and budget
};

Simulated simulate(serve::BudgetController& c, const std::vector<std::pair<double, double>>& phases, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> arrivals;
  double t0 = 0;
  for (const auto& [rate, seconds] : phases) {
    std::exponential_distribution<double> gap(rate);
    for (double t = t0 + gap(rng); t < t0 + seconds; t += gap(rng)) arrivals.push_back(t);
    t0 += seconds;
  }
  const auto& o = c.options();
  serve::ArrivalRate estimate;
  std::vector<double> latencies;
  Simulated out;
  out.budget_batches.assign(c.budgets(), 0);
  const auto times = three_budgets();
  double free_at = 0;
  size_t next = 0, seen = 0;
  while (next < arrivals.size()) {
    const double start = std::max(free_at, arrivals[next] + o.max_wait_s());
    for (; seen < arrivals.size() && arrivals[seen] <= start; ++seen) estimate.add(arrivals[seen], 1);
    const int64_t waiting = static_cast<int64_t>(seen - next);
    const int64_t n = std::min<int64_t>(std::max<int64_t>(waiting, 1), o.max_batch());
    const size_t b = c.choose(waiting, estimate.at(start));
    const double end = start + times[b].of(n);
    for (int64_t i = 0; i < n; ++i) latencies.push_back(end - arrivals[next + i]);
    next += n;
    free_at = end;
    ++out.budget_batches[b];
    out.runs.emplace_back(start, b);
  }
  std::sort(latencies.begin(), latencies.end());
  out.p99_s = latencies[latencies.size() * 99 / 100];
  return out;
}

int64_t total(const std::vector<int64_t>& counts) { return std::accumulate(counts.begin(), counts.end(), int64_t{0}); }

TEST(BudgetController, OnASimulatedQueueHoldsTheTargetWhereTheFullNetworkCannot) {
  // The full network sustains 32 / 10.6 ms = 3019 images/s; offer 1.5 times that.
  const double capacity = 32 / three_budgets()[2].of(32);
  serve::BudgetController adaptive(three_budgets(), controller_options());
  serve::BudgetController full(three_budgets(), controller_options().pinned(2));
  const auto a = simulate(adaptive, {{1.5 * capacity, 3}}, 7);
  const auto f = simulate(full, {{1.5 * capacity, 3}}, 7);
  EXPECT_LE(a.p99_s, 0.05);
  EXPECT_GT(f.p99_s, 0.5);  // the queue grows for the whole run
  EXPECT_GT(a.budget_batches[0], total(a.budget_batches) / 2);
  // At a tenth of the capacity the adaptive controller runs the full budget nearly always.
  serve::BudgetController light(three_budgets(), controller_options());
  const auto l = simulate(light, {{0.1 * capacity, 3}}, 8);
  EXPECT_GE(l.budget_batches[2], 0.95 * total(l.budget_batches));
  EXPECT_LE(l.p99_s, 0.05);
}

TEST(BudgetController, MovesBackUpWhenLoadFalls) {
  const double capacity = 32 / three_budgets()[2].of(32);
  serve::BudgetController c(three_budgets(), controller_options());
  const auto s = simulate(c, {{1.5 * capacity, 2}, {0.1 * capacity, 3}}, 9);
  std::vector<int64_t> overload(3, 0), after(3, 0);
  for (const auto& [start, b] : s.runs) {
    if (start > 1 && start < 2) ++overload[b];
    if (start > 3) ++after[b];  // a second after the load fell
  }
  EXPECT_GT(overload[0], total(overload) / 2);
  EXPECT_GE(after[2], 0.95 * total(after));
  EXPECT_LE(s.p99_s, 0.05);
}

}  // namespace
}  // namespace l2w
