// The same computations on a GPU and on the CPU agree: networks, one L2W iteration, dynamic evaluation
// and the early-exit engine. Skipped where CUDA is not available (scripts/gpu_check.sh runs them on a
// GPU machine). Float64 wherever the operation allows it, so that the tolerances (stated per check) are
// about the algorithms' summation order, not float32 rounding.
#include <cmath>

#include <gtest/gtest.h>

#include "l2w/eval/dynamic.h"
#include "l2w/criterion/exit_allocation.h"
#include "l2w/infer/early_exit_classifier.h"
#include "l2w/infer/inference_form.h"
#include "l2w/meta/l2w_step.h"
#include "l2w/models/ranet.h"
#include "l2w/io/state_dict.h"
#include "l2w/train/cuda_graph_step.h"
#include "l2w/train/divergence.h"
#include "test_util.h"

namespace l2w {
namespace {

const torch::Device kGpu(torch::kCUDA, 0);

#define REQUIRE_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

// Two identically initialised copies of a network: one on the CPU, one on the GPU, in `dtype`.
template <typename Make>
std::pair<models::MultiExitNetwork, models::MultiExitNetwork> twins(Make make, torch::Dtype dtype) {
  torch::manual_seed(5);
  models::MultiExitNetwork cpu = make();
  torch::manual_seed(5);
  models::MultiExitNetwork gpu = make();
  cpu->to(dtype);
  gpu->to(kGpu, dtype);
  return {cpu, gpu};
}

models::MultiExitNetwork tiny_msdnet() { return std::make_shared<models::MSDNetImpl>(test::tiny_msdnet()); }

models::MultiExitNetwork small_ranet() { return std::make_shared<models::RANetImpl>(test::small_ranet()); }

// max |a − b| ≤ atol + rtol·max |a|, with the gap in the message.
::testing::AssertionResult close(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol) {
  const auto x = a.detach().cpu().to(torch::kFloat64), y = b.detach().cpu().to(torch::kFloat64);
  if (x.sizes() != y.sizes()) return ::testing::AssertionFailure() << "shapes differ";
  const double gap = (x - y).abs().max().item<double>();
  const double scale = x.abs().max().item<double>();
  if (gap <= atol + rtol * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max |difference| " << gap << " against max |value| " << scale;
}

void forward_and_backward_agree(models::MultiExitNetwork cpu, models::MultiExitNetwork gpu) {
  const auto x = torch::randn({8, 3, 32, 32}, torch::kFloat64);
  const auto y = torch::randint(10, {8}, torch::kLong);
  auto loss_of = [&](models::MultiExitNetworkImpl& net, const torch::Device& device) {
    auto loss = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    for (const auto& logits : net.forward(x.to(device)))
      loss = loss + torch::nn::functional::cross_entropy(logits, y.to(device));
    loss.backward();
    return loss;
  };
  // Float64 throughout: 1e-9 relative covers cuDNN's other summation orders.
  EXPECT_TRUE(close(loss_of(*cpu, torch::kCPU), loss_of(*gpu, kGpu), 1e-9, 1e-12));
  const auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(close(pc[i].value().grad(), pg[i].value().grad(), 1e-8, 1e-12)) << pc[i].key();
  const auto bc = cpu->named_buffers(), bg = gpu->named_buffers();
  for (size_t i = 0; i < bc.size(); ++i) EXPECT_TRUE(close(bc[i].value(), bg[i].value(), 1e-9, 1e-12)) << bc[i].key();
}

TEST(Cuda, MSDNetForwardAndBackwardEqualTheCpuInFloat64) {
  REQUIRE_CUDA();
  auto [cpu, gpu] = twins(tiny_msdnet, torch::kFloat64);
  forward_and_backward_agree(cpu, gpu);
}

TEST(Cuda, RANetForwardAndBackwardEqualTheCpuInFloat64) {
  REQUIRE_CUDA();
  auto [cpu, gpu] = twins(small_ranet, torch::kFloat64);
  forward_and_backward_agree(cpu, gpu);
}

// One L2W iteration on each device from the same state: the WPN's gradient, the weights the real step
// used, and every parameter after the step.
void l2w_iteration_agrees(meta::MetaGrad method, double gradient_rtol) {
  auto [cpu, gpu] = twins(tiny_msdnet, torch::kFloat64);
  meta::MetaOptions options(3);
  options.wpn().hidden_size(16);
  options.meta_grad(method);
  options.meta_lr(1e-2);
  train::Sgd sgd_cpu(cpu->parameters(), train::SgdOptions().lr(0.1).momentum(0.9).weight_decay(1e-4));
  train::Sgd sgd_gpu(gpu->parameters(), train::SgdOptions().lr(0.1).momentum(0.9).weight_decay(1e-4));
  torch::manual_seed(7);
  meta::L2WStep step_cpu(*cpu, sgd_cpu, options);
  torch::manual_seed(7);
  meta::L2WStep step_gpu(*gpu, sgd_gpu, options);
  const auto x = torch::randn({16, 3, 32, 32}, torch::kFloat64);
  const auto y = torch::randint(10, {16}, torch::kLong);

  const auto g_cpu = step_cpu.meta_gradient(x.slice(0, 0, 8), y.slice(0, 0, 8), x.slice(0, 8), y.slice(0, 8));
  const auto g_gpu = step_gpu.meta_gradient(x.slice(0, 0, 8).to(kGpu), y.slice(0, 0, 8).to(kGpu),
                                            x.slice(0, 8).to(kGpu), y.slice(0, 8).to(kGpu));
  EXPECT_TRUE(close(g_cpu.meta_loss, g_gpu.meta_loss, 1e-9, 1e-12));
  for (size_t i = 0; i < g_cpu.grads.size(); ++i)
    EXPECT_TRUE(close(g_cpu.grads[i], g_gpu.grads[i], gradient_rtol, 1e-12)) << "WPN gradient " << i;

  const auto r_cpu = step_cpu.run(x, y, {0, 1.0});
  const auto r_gpu = step_gpu.run(x.to(kGpu), y.to(kGpu), {0, 1.0});
  EXPECT_TRUE(close(r_cpu.weights, r_gpu.weights, gradient_rtol, 1e-12)) << "weights of the real step";
  EXPECT_TRUE(close(r_cpu.losses, r_gpu.losses, gradient_rtol, 1e-12)) << "losses of the real step";
  const auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(close(pc[i].value(), pg[i].value(), gradient_rtol, 1e-12)) << "after the step: " << pc[i].key();
}

// Exact: second-order backward in float64, 1e-7 relative.
TEST(Cuda, L2WIterationExactEqualsTheCpuInFloat64) {
  REQUIRE_CUDA();
  l2w_iteration_agrees(meta::MetaGrad::kExact, 1e-7);
}

// fd: the central difference divides rounding of size 1e-16·|L| by δ ≈ 1e-9·|θ|/|h|, so the devices'
// different summation orders show at about 1e-6 relative; 1e-4 leaves room.
TEST(Cuda, L2WIterationFiniteDifferenceEqualsTheCpuInFloat64) {
  REQUIRE_CUDA();
  l2w_iteration_agrees(meta::MetaGrad::kFiniteDifference, 1e-4);
}

eval::ExitOutputs outputs_of(models::MultiExitNetworkImpl& net, const torch::Tensor& images, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  net.eval();
  eval::ExitOutputs o{net.forward(images.to(net.parameters().front().device())), labels};
  for (auto& logits : o.logits) logits = logits.cpu();
  return o;
}

// Dynamic evaluation from each device's outputs (float64 logits, float32 confidences as the reference):
// the same thresholds within float32 rounding and the same accuracy and cost at all 39 budgets.
TEST(Cuda, DynamicEvaluationEqualsTheCpu) {
  REQUIRE_CUDA();
  auto [cpu, gpu] = twins(tiny_msdnet, torch::kFloat64);
  const auto valid = torch::randn({200, 3, 32, 32}, torch::kFloat64), test = torch::randn({200, 3, 32, 32}, torch::kFloat64);
  const auto valid_labels = torch::randint(10, {200}, torch::kLong), test_labels = torch::randint(10, {200}, torch::kLong);
  const std::vector<nn::Cost> costs{{1000, 10}, {2000, 20}, {3000, 30}};
  const auto on_cpu = eval::dynamic_sweep(eval::exit_confidences(outputs_of(*cpu, valid, valid_labels)),
                                          eval::exit_confidences(outputs_of(*cpu, test, test_labels)), costs);
  const auto on_gpu = eval::dynamic_sweep(eval::exit_confidences(outputs_of(*gpu, valid, valid_labels)),
                                          eval::exit_confidences(outputs_of(*gpu, test, test_labels)), costs);
  ASSERT_EQ(on_cpu.size(), on_gpu.size());
  for (size_t i = 0; i < on_cpu.size(); ++i) {
    for (size_t k = 0; k < on_cpu[i].thresholds.size(); ++k) {
      const float a = on_cpu[i].thresholds[k], b = on_gpu[i].thresholds[k];
      if (std::isinf(a) || std::isinf(b)) {
        EXPECT_EQ(a, b) << "budget " << i << " exit " << k;  // ±∞: an exit that nobody or everybody takes
      } else {
        EXPECT_NEAR(a, b, 1e-6) << "budget " << i << " exit " << k;
      }
    }
    EXPECT_DOUBLE_EQ(on_cpu[i].test.accuracy, on_gpu[i].test.accuracy) << "budget " << i;
    EXPECT_DOUBLE_EQ(on_cpu[i].test.expected_muladds, on_gpu[i].test.expected_muladds) << "budget " << i;
  }
}

// The early-exit engine (float32, as deployed) sends every image to the same exit with the same
// prediction on both devices, and its confidences agree within 1e-5.
TEST(Cuda, EarlyExitEngineEqualsTheCpu) {
  REQUIRE_CUDA();
  // cuDNN's TF32 convolutions (PyTorch's default on recent GPUs) round to 10 mantissa bits: enough to move
  // a confidence across a threshold. Full float32 here.
  const bool tf32 = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(false);
  auto [cpu, gpu] = twins(tiny_msdnet, torch::kFloat32);
  {
    torch::NoGradGuard no_grad;
    for (auto* net : {&cpu, &gpu})
      for (auto& p : (*net)->parameters()) p.mul_(1.5);  // exits that disagree, so samples spread out
  }
  const auto valid = torch::randn({128, 3, 32, 32}), test = torch::randn({96, 3, 32, 32});
  const auto confidences = eval::exit_confidences(outputs_of(*cpu, valid, torch::zeros({128}, torch::kLong)));
  const auto thresholds = eval::find_thresholds(confidences.confidence, criterion::target_proportions(15, 3));
  infer::EarlyExitClassifier engine_cpu(cpu, thresholds), engine_gpu(gpu, thresholds);
  const auto a = engine_cpu.classify(test);
  const auto b = engine_gpu.classify(test.to(kGpu));
  EXPECT_TRUE(torch::equal(a.exit_index, b.exit_index.cpu()));
  EXPECT_TRUE(torch::equal(a.prediction, b.prediction.cpu()));
  EXPECT_TRUE(close(a.confidence, b.confidence, 0, 1e-5));
  EXPECT_GT(a.exit_index.eq(0).sum().item<int64_t>(), 0);
  EXPECT_GT(a.exit_index.eq(2).sum().item<int64_t>(), 0);
  at::globalContext().setAllowTF32CuDNN(tf32);
}

// The inference form on the GPU, in both layouts, against the trained network on the CPU.
TEST(Cuda, InferenceFormEqualsTheTrainedNetworkOnTheCpu) {
  REQUIRE_CUDA();
  const bool tf32 = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(false);
  for (bool channels_last : {false, true}) {
    auto [cpu, gpu] = twins(tiny_msdnet, torch::kFloat32);
    cpu->eval();
    const auto form = infer::to_inference_form(*gpu, infer::InferenceFormOptions().channels_last(channels_last));
    EXPECT_GT(form.folded_batch_norms, 0);
    const auto images = torch::randn({16, 3, 32, 32});
    c10::InferenceMode inference;
    const auto expected = cpu->forward(images);
    const auto actual = gpu->forward(images.to(kGpu).contiguous(form.input_format));
    for (size_t k = 0; k < expected.size(); ++k)
      EXPECT_TRUE(close(expected[k], actual[k], 1e-5, 1e-5)) << "exit " << k << ", channels_last " << channels_last;
  }
  at::globalContext().setAllowTF32CuDNN(tf32);
}

// CUDA graphs (train/cuda_graph_step.h). One method's step, eager on one network and captured on its twin.
struct GraphCase {
  const char* name;
  bool l2w;
  meta::MetaGrad grad;
};
const GraphCase kGraphCases[] = {{"plain", false, meta::MetaGrad::kExact},
                                 {"L2W exact", true, meta::MetaGrad::kExact},
                                 {"L2W fd", true, meta::MetaGrad::kFiniteDifference}};

struct Trained {
  models::MSDNet net{test::micro_msdnet()};
  std::unique_ptr<train::Sgd> sgd;
  std::unique_ptr<train::TrainStep> step;
};

void make_trained(Trained& t, const GraphCase& c, bool graphed) {
  torch::manual_seed(11);
  t.net = models::MSDNet(test::micro_msdnet());
  t.net->to(kGpu);
  t.sgd = std::make_unique<train::Sgd>(t.net->parameters(),
                                       train::SgdOptions().lr(0.1).momentum(0.9).weight_decay(1e-4));
  meta::MetaOptions options(t.net->num_exits());
  options.wpn().hidden_size(8);
  options.meta_interval(2).meta_grad(c.grad);
  if (c.l2w) {
    t.step = std::make_unique<meta::L2WStep>(*t.net, *t.sgd, options);
  } else {
    t.step = std::make_unique<train::PlainStep>(*t.net, *t.sgd, 0.0);
  }
  if (graphed) t.step = std::make_unique<train::CudaGraphStep>(std::move(t.step), /*warmup=*/2);
}

void deterministic_cudnn() {
  at::globalContext().setDeterministicCuDNN(true);
  at::globalContext().setBenchmarkCuDNN(false);
}

// Iterations 0-13 of batches of 8, with a ragged batch of 5 at iteration 9 (run eagerly between
// replays), meta and real-only iterations alternating, learning rates changing every iteration: the
// captured network ends bit for bit where the eager one does, and every report is equal on the way.
TEST(CudaGraphs, ReplayEqualsEagerBitForBit) {
  REQUIRE_CUDA();
  deterministic_cudnn();
  for (const auto& c : kGraphCases) {
    Trained eager, graphed;
    make_trained(eager, c, false);
    make_trained(graphed, c, true);
    torch::manual_seed(12);
    for (int64_t it = 0; it < 14; ++it) {
      const int64_t n = it == 9 ? 5 : 8;
      const auto x = torch::randn({n, 1, 16, 16}).to(kGpu);
      const auto y = torch::randint(3, {n}, torch::kLong).to(kGpu);
      const train::StepPosition position{it, 1.0 / double(1 + it)};
      for (auto* t : {&eager, &graphed}) t->sgd->set_lr(0.1 * position.lr_factor);
      const auto a = eager.step->run(x, y, position);
      const auto b = graphed.step->run(x, y, position);
      EXPECT_TRUE(torch::equal(a.losses, b.losses)) << c.name << ", iteration " << it;
      EXPECT_TRUE(torch::equal(a.grad_norm, b.grad_norm)) << c.name << ", iteration " << it;
      if (a.meta_loss.defined()) {
        EXPECT_TRUE(torch::equal(a.meta_loss, b.meta_loss)) << c.name << ", iteration " << it;
      }
    }
    const auto& cuda = dynamic_cast<train::CudaGraphStep&>(*graphed.step);
    EXPECT_TRUE(cuda.refused().empty()) << cuda.refused();
    EXPECT_GE(cuda.replays(), 6) << c.name;
    const auto sa = io::state_dict(*eager.net), sb = io::state_dict(*graphed.net);
    for (const auto& item : sa) EXPECT_TRUE(torch::equal(item.value(), sb[item.key()])) << c.name << " " << item.key();
    for (size_t i = 0; i < eager.sgd->momentum_buffers().size(); ++i)
      EXPECT_TRUE(torch::equal(eager.sgd->momentum_buffers()[i], graphed.sgd->momentum_buffers()[i])) << c.name;
    const auto wa = eager.step->shared_state(), wb = graphed.step->shared_state();
    for (size_t i = 0; i < wa.size(); ++i) EXPECT_TRUE(torch::equal(wa[i], wb[i])) << c.name << " WPN " << i;
  }
}

// A NaN put into a parameter between two replays: the divergence watch names the next iteration.
TEST(CudaGraphs, AnInjectedNanStopsTheRunAtItsIteration) {
  REQUIRE_CUDA();
  Trained t;
  make_trained(t, kGraphCases[2], true);
  train::DivergenceWatch watch;
  const auto x = torch::randn({8, 1, 16, 16}).to(kGpu);
  const auto y = torch::randint(3, {8}, torch::kLong).to(kGpu);
  for (int64_t it = 0; it < 12; ++it) {
    if (it == 10) {
      torch::NoGradGuard no_grad;
      t.net->parameters().front().view(-1)[0].fill_(std::nan(""));
    }
    watch.add(t.step->run(x, y, {it}), 1, it + 1);
  }
  try {
    watch.check();
    ADD_FAILURE() << "the NaN went unnoticed";
  } catch (const train::DivergenceError& e) {
    EXPECT_NE(std::string(e.what()).find("epoch 1, iteration 11: "), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace l2w
