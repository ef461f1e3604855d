#include <cmath>

#include <gtest/gtest.h>

#include "l2w/criterion/knowledge_distillation.h"

namespace l2w {
namespace {

// Two samples, two classes, two exits; T = 2, gamma = 0.25, computed by hand in float64.
TEST(KnowledgeDistillation, OneForAllLossByHand) {
  const auto exit0 = torch::tensor({{1.0, 0.0}, {0.0, 2.0}}, torch::kFloat64);
  const auto exit1 = torch::tensor({{3.0, 1.0}, {1.0, 1.0}}, torch::kFloat64);
  const auto teacher = torch::tensor({{2.0, 0.0}, {0.0, 0.0}}, torch::kFloat64);
  const auto labels = torch::tensor({0, 1}, torch::kLong);
  const double t = 2, gamma = 0.25;
  const auto ce = [](double a, double b, int label) {  // -log softmax(a, b)[label]
    const double z = std::log(std::exp(a) + std::exp(b));
    return z - (label == 0 ? a : b);
  };
  const auto softmax0 = [](double a, double b) { return std::exp(a) / (std::exp(a) + std::exp(b)); };
  // KL summed over each row's two classes, p the teacher's distribution at T, q exit 0's.
  double kl_sum = 0;
  const double rows[2][4] = {{2, 0, 1, 0}, {0, 0, 0, 2}};  // teacher a, b; exit a, b
  for (const auto& r : rows) {
    const double p = softmax0(r[0] / t, r[1] / t), q = softmax0(r[2] / t, r[3] / t);
    kl_sum += p * std::log(p / q) + (1 - p) * std::log((1 - p) / (1 - q));
  }
  const double kl_mean = kl_sum / 4;  // averaged over every element: 2 samples x 2 classes
  const double ce_last = (ce(3, 1, 0) + ce(1, 1, 1)) / 2;
  const double ce_first = (ce(1, 0, 0) + ce(0, 2, 1)) / 2;
  const double expected = ce_last + (1 - gamma) * ce_first + gamma * t * t * kl_mean;
  const auto loss = criterion::one_for_all_distillation_loss(
      {exit0, exit1}, labels, teacher, criterion::DistillationOptions().temperature(t).gamma(gamma));
  EXPECT_NEAR(loss.item<double>(), expected, 1e-12);
}

TEST(KnowledgeDistillation, GammaZeroIsTheSumOfCrossEntropiesAndTheTeacherGetsNoGradient) {
  torch::manual_seed(2);
  std::vector<torch::Tensor> logits{torch::randn({8, 5}, torch::requires_grad()), torch::randn({8, 5}, torch::requires_grad())};
  const auto teacher = torch::randn({8, 5}, torch::requires_grad());
  const auto labels = torch::randint(5, {8}, torch::kLong);
  const auto loss = criterion::one_for_all_distillation_loss(logits, labels, teacher,
                                                             criterion::DistillationOptions().gamma(0));
  const auto plain = torch::nn::functional::cross_entropy(logits[0], labels) +
                     torch::nn::functional::cross_entropy(logits[1], labels);
  EXPECT_NEAR(loss.item<double>(), plain.item<double>(), 1e-6);
  const auto with_teacher = criterion::one_for_all_distillation_loss(logits, labels, teacher, {});
  with_teacher.backward();
  EXPECT_FALSE(teacher.grad().defined());
  EXPECT_TRUE(logits[0].grad().defined());
}

}  // namespace
}  // namespace l2w
