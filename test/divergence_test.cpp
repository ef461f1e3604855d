#include <gtest/gtest.h>

#include "l2w/train/divergence.h"

namespace l2w {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const train::DivergenceError& e) {
    return e.what();
  }
  return "";
}

train::StepReport finite_report() {
  train::StepReport r;
  r.losses = torch::rand({4, 3});
  r.weights = torch::ones({4, 3});
  r.meta_loss = torch::tensor(1.5);
  r.grad_norm = torch::tensor(2.0);
  return r;
}

TEST(Divergence, FiniteStepsPassAndTheFirstNonFiniteQuantityIsNamed) {
  EXPECT_EQ(error_of([] { train::check_finite(finite_report(), 1, 1); }), "");
  train::StepReport plain = finite_report();
  plain.weights = plain.meta_loss = torch::Tensor();  // plain training reports neither
  EXPECT_EQ(error_of([&] { train::check_finite(plain, 1, 1); }), "");

  auto r = finite_report();
  r.weights[2][1] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(error_of([&] { train::check_finite(r, 3, 17); }).rfind(
                "training diverged in epoch 3, iteration 17: the WPN loss weight is -inf", 0),
            0u);
  r = finite_report();
  r.grad_norm = torch::tensor(std::nan(""));
  EXPECT_NE(error_of([&] { train::check_finite(r, 1, 2); }).find("the gradient norm is nan"), std::string::npos);
  r = finite_report();
  r.meta_loss = torch::tensor(std::numeric_limits<double>::infinity());
  EXPECT_NE(error_of([&] { train::check_finite(r, 1, 2); }).find("the meta loss is inf"), std::string::npos);
}

// The watch keeps the first bad report on the device; check(), later, names that one.
TEST(Divergence, TheWatchNamesTheFirstBadIterationWhenChecked) {
  train::DivergenceWatch watch;
  watch.add(finite_report(), 2, 1);
  EXPECT_EQ(error_of([&] { watch.check(); }), "");
  auto r = finite_report();
  r.grad_norm = torch::tensor(std::nan(""));
  r.losses[3][0] = std::numeric_limits<float>::infinity();  // the training loss comes first
  watch.add(r, 2, 2);
  r = finite_report();
  r.meta_loss = torch::tensor(-std::numeric_limits<double>::infinity());
  watch.add(r, 2, 3);
  watch.add(finite_report(), 2, 4);
  EXPECT_EQ(error_of([&] { watch.check(); }).rfind(
                "training diverged in epoch 2, iteration 2: the training loss is inf", 0),
            0u);
}

TEST(Divergence, NonFiniteCheckpointsAreRefusedByTensorName) {
  io::Checkpoint c;
  c.epoch = 4;
  c.state_dict.insert("conv.weight", torch::ones({2, 2}));
  c.state_dict.insert("bn.num_batches_tracked", torch::tensor(3));
  EXPECT_EQ(error_of([&] { train::check_finite(c); }), "");
  c.meta_state_dict.insert("output_layer.bias", torch::tensor({0.0f, std::nanf("")}));
  EXPECT_EQ(error_of([&] { train::check_finite(c); }),
            "after epoch 4, WPN parameter 'output_layer.bias' holds nan: not writing a checkpoint of a diverged run");
}

}  // namespace
}  // namespace l2w
