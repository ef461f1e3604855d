// The host synchronisation counter, and the training steps it watches: plain, L2W exact and L2W fd
// steps, meta and non-meta iterations, never wait for the device (docs/gpu.md). The counter sees
// operators on the CPU as on a GPU, so this holds on the CPU suite.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "l2w/criterion/exit_allocation.h"
#include "l2w/meta/l2w_step.h"
#include "l2w/runtime/host_sync_counter.h"
#include "l2w/train/divergence.h"
#include "test_util.h"

namespace l2w {
namespace {

TEST(HostSyncCounter, CountsEachOperatorThatWaitsOnceAndNothingElse) {
  const auto t = torch::randn({4, 3});
  {
    runtime::HostSyncCounter counter;
    auto u = (t * 2 + 1).sum(1).to(torch::kFloat64);  // arithmetic, reductions and dtype casts stay on the device
    u = std::get<0>(torch::softmax(u, 0).cumsum(0).sort(/*stable=*/true, 0, true));
    EXPECT_EQ(counter.count(), 0) << counter.summary();
    EXPECT_EQ(counter.summary(), "none");
  }
  runtime::HostSyncCounter counter;
  (void)t.sum().item<float>();               // item, calling _local_scalar_dense: one
  (void)torch::nonzero(t > 0);               // one
  (void)t.masked_select(t > 0);              // one
  (void)t.to(torch::kCPU);                   // a move to the CPU: one
  (void)torch::equal(t, t);                  // one
  EXPECT_EQ(counter.count(), 5) << counter.summary();
  EXPECT_EQ(counter.by_operator().at("aten::item"), 1) << counter.summary();
}

// What the device allocation replaces: the host's greedy pass reads the confidences to the host.
TEST(HostSyncCounter, SeesTheHostExitAllocationAndNotTheDeviceOne) {
  const auto conf = torch::rand({16, 3});
  const std::vector<float> q{0.5f, 0.3f, 0.2f};
  {
    runtime::HostSyncCounter counter;
    criterion::allocate_exits(conf, q);
    EXPECT_EQ(counter.count(), 1) << counter.summary();
  }
  runtime::HostSyncCounter counter;
  criterion::rows_by_exit(criterion::allocate_exits_on_device(conf, q), q);
  EXPECT_EQ(counter.count(), 0) << counter.summary();
}

struct Case {
  const char* name;
  bool l2w;
  meta::MetaGrad grad;
};

// After a warm-up iteration (the optimizers' state is created then), iteration 2 is a meta iteration
// and iteration 3 a real-only one (meta_interval 2); each counts zero, divergence watch included.
TEST(HostSyncCounter, TrainingStepsNeverWaitForTheDevice) {
  for (const Case& c : {Case{"plain", false, meta::MetaGrad::kExact}, Case{"L2W exact", true, meta::MetaGrad::kExact},
                        Case{"L2W fd", true, meta::MetaGrad::kFiniteDifference}}) {
    torch::manual_seed(5);
    models::MSDNet net(test::micro_msdnet());
    train::Sgd sgd(net->parameters(), train::SgdOptions().lr(0.1).momentum(0.9).weight_decay(1e-4));
    distributed::DataParallel parallel(net->parameters(), nullptr);
    meta::MetaOptions options(net->num_exits());
    options.wpn().hidden_size(8);
    options.meta_interval(2).meta_grad(c.grad);
    std::unique_ptr<train::TrainStep> step;
    if (c.l2w) {
      step = std::make_unique<meta::L2WStep>(*net, sgd, options, &parallel);
    } else {
      step = std::make_unique<train::PlainStep>(*net, sgd, 0.0, &parallel);
    }
    train::DivergenceWatch watch;
    const auto x = torch::randn({8, 1, 16, 16});
    const auto y = torch::randint(3, {8}, torch::kLong);
    for (int64_t it = 0; it < 4; ++it) {
      sgd.set_lr(0.1 / double(it + 1));
      runtime::HostSyncCounter counter;
      const auto report = step->run(x, y, {it, 1.0 / double(it + 1)});
      watch.add(report, 1, it + 1);
      if (it >= 2) {
        EXPECT_EQ(counter.count(), 0) << c.name << ", iteration " << it << ": " << counter.summary();
      }
    }
    watch.check();  // all finite: no error
  }
}

// fp16 loss scaling decides on the device whether a step is skipped.
TEST(HostSyncCounter, LossScaledStepsNeverWaitForTheDevice) {
  auto p = torch::ones({3}, torch::requires_grad());
  train::Sgd sgd({p}, train::SgdOptions().lr(0.1));
  runtime::LossScaler scaler(true);
  for (float factor : {1.0f, std::numeric_limits<float>::infinity(), 2.0f}) {
    runtime::HostSyncCounter counter;
    const auto norm = train::descend((p * factor).sum(), sgd, nullptr, scaler);
    EXPECT_EQ(counter.count(), 0) << counter.summary();
    EXPECT_FLOAT_EQ(norm.item<float>(), std::isinf(factor) ? 0.0f : factor * std::sqrt(3.0f));
  }
}

}  // namespace
}  // namespace l2w
