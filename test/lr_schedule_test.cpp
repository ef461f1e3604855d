#include <cmath>

#include <gtest/gtest.h>

#include "l2w/train/lr_schedule.h"

namespace l2w {
namespace {

TEST(LrSchedule, CosinePerIteration) {
  train::LrSchedule s;
  s.type = train::LrType::kCosine;
  s.base_lr = 0.8;
  s.epochs = 4;
  s.iterations_per_epoch = 10;
  EXPECT_DOUBLE_EQ(s.at(0, 0), 0.8);
  EXPECT_NEAR(s.at(2, 0), 0.4, 1e-12);
  EXPECT_NEAR(s.at(1, 3), 0.5 * 0.8 * (1 + std::cos(M_PI * 13.0 / 40.0)), 1e-12);
  EXPECT_LT(s.at(3, 9), 0.01);
}

TEST(LrSchedule, MultistepFollowsTheMsdnetConvention) {
  train::LrSchedule s;
  s.type = train::LrType::kMultistep;
  s.base_lr = 0.1;
  s.decay_rate = 0.1;
  s.milestones = train::default_milestones("cifar100", 300);
  EXPECT_DOUBLE_EQ(s.at(149, 5), 0.1);
  EXPECT_NEAR(s.at(150, 0), 0.01, 1e-15);
  EXPECT_NEAR(s.at(225, 0), 0.001, 1e-15);
  EXPECT_EQ(train::default_milestones("ImageNet", 100), (std::vector<double>{30, 60, 90}));
}

}  // namespace
}  // namespace l2w
