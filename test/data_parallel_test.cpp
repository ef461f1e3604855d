// Data parallelism over real c10d Gloo process groups, the ranks being threads of this test joined
// through a TCPStore on loopback.
#include <filesystem>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "l2w/dataset/data_sets.h"
#include "l2w/distributed/data_parallel.h"
#include "l2w/distributed/launcher.h"
#include "l2w/distributed/process_group.h"
#include "l2w/meta/l2w_step.h"
#include "l2w/train/sgd.h"
#include "l2w/train/trainer.h"
#include "test_util.h"

namespace l2w {
namespace {

// Runs body(rank, communicator) on `world` threads that form one job.
void run_ranks(int64_t world, const std::function<void(int64_t, std::shared_ptr<distributed::Communicator>)>& body) {
  distributed::JobOptions job;
  job.master_port = distributed::free_local_port();
  job.world_size = world;
  job.timeout = std::chrono::seconds(60);
  std::vector<std::thread> threads;
  std::vector<std::string> errors(world);
  for (int64_t r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        auto j = job;
        j.rank = r;
        body(r, distributed::join_job(j, torch::kCPU));
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int64_t r = 0; r < world; ++r) EXPECT_EQ(errors[r], "") << "rank " << r;
}

// A BatchNorm-free model: the average of per-rank mean losses is then exactly the mean loss of the
// whole batch.
torch::nn::Sequential mlp(uint64_t seed) {
  torch::manual_seed(seed);
  return torch::nn::Sequential(torch::nn::Linear(6, 16), torch::nn::Tanh(), torch::nn::Linear(16, 3));
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> out;
  for (const auto& t : tensors) out.push_back(t.detach().clone());
  return out;
}

class DataParallelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!distributed::c10d_available()) GTEST_SKIP() << "built without c10d";
  }
};

TEST_F(DataParallelTest, TwoRanksOfBatchBEqualOneProcessOfBatch2B) {
  torch::manual_seed(1);
  const auto x = torch::randn({8, 16, 6});  // 8 steps of a global batch of 16
  const auto y = torch::randint(3, {8, 16});
  const auto options = train::SgdOptions().lr(0.3).momentum(0.9).weight_decay(1e-3);

  auto single = mlp(3);
  train::Sgd single_sgd(single->parameters(), options);
  for (int64_t s = 0; s < 8; ++s) {
    single_sgd.zero_grad();
    torch::nn::functional::cross_entropy(single->forward(x[s]), y[s]).backward();
    single_sgd.step();
  }

  std::vector<std::vector<torch::Tensor>> trained(2);
  // Made before the threads, which would share the global generator; rank 1 starts elsewhere: rank 0's
  // parameters are broadcast.
  torch::nn::Sequential nets[2] = {mlp(3), mlp(99)};
  run_ranks(2, [&](int64_t rank, std::shared_ptr<distributed::Communicator> comm) {
    auto net = nets[rank];
    // Buckets of 64 bytes: several all-reduces per backward, launched while backward runs.
    distributed::DataParallel parallel(net->parameters(), comm, distributed::DataParallelOptions().bucket_bytes(64));
    parallel.broadcast_from_main(net->parameters());
    train::Sgd sgd(net->parameters(), options);
    const auto mine = torch::arange(rank, 16, 2);  // the sampler's positions r, r + 2, …
    for (int64_t s = 0; s < 8; ++s) {
      sgd.zero_grad();
      parallel.backward(
          torch::nn::functional::cross_entropy(net->forward(x[s].index_select(0, mine)), y[s].index_select(0, mine)));
      sgd.step();
    }
    trained[rank] = copies(net->parameters());
  });
  // The DataParallel objects are gone and took their hooks along: the networks train on by themselves.
  for (auto& net : nets) {
    net->forward(x[0]).sum().backward();
    EXPECT_TRUE(net->parameters()[0].grad().defined());
  }
  const auto expected = single->parameters();
  for (int64_t r = 0; r < 2; ++r) {
    ASSERT_EQ(trained[r].size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(torch::allclose(trained[r][i], expected[i], 1e-5, 1e-6)) << "rank " << r << " parameter " << i;
      EXPECT_TRUE(torch::equal(trained[r][i], trained[0][i])) << "rank " << r << " parameter " << i;
    }
  }
}

TEST_F(DataParallelTest, AParameterOneRankDidNotUseGetsTheAverageOfTheOthers) {
  std::vector<torch::Tensor> grads(2);
  run_ranks(2, [&](int64_t rank, std::shared_ptr<distributed::Communicator> comm) {
    auto a = torch::ones({3}, torch::requires_grad());
    auto b = torch::ones({2}, torch::requires_grad());
    distributed::DataParallel parallel({a, b}, comm);
    // Rank 0's loss leaves b out; rank 1's uses it with gradient 4.
    parallel.backward(rank == 0 ? a.sum() : a.sum() * 3 + b.sum() * 4);
    grads[rank] = torch::cat({a.grad(), b.grad()});
  });
  const auto expected = torch::tensor({2.f, 2.f, 2.f, 2.f, 2.f});
  EXPECT_TRUE(torch::equal(grads[0], expected)) << grads[0];
  EXPECT_TRUE(torch::equal(grads[1], expected)) << grads[1];
}

TEST_F(DataParallelTest, MetaGradientsAreAveragedAndOnlyInsideBackwardAreHooksActive) {
  std::vector<torch::Tensor> averaged(2), local(2);
  run_ranks(2, [&](int64_t rank, std::shared_ptr<distributed::Communicator> comm) {
    auto w = torch::full({2}, 1.0, torch::requires_grad());
    distributed::DataParallel parallel({w}, comm);
    // A gradient taken with autograd::grad (the pseudo step's) stays this rank's own.
    local[rank] = torch::autograd::grad({(w * double(rank + 1)).sum()}, {w})[0];
    std::vector<torch::Tensor> g = {torch::full({2}, double(rank) * 2.0), torch::full({1}, 10.0 * double(rank))};
    parallel.average(g);
    averaged[rank] = torch::cat(g);
  });
  EXPECT_TRUE(torch::equal(local[0], torch::full({2}, 1.0)));
  EXPECT_TRUE(torch::equal(local[1], torch::full({2}, 2.0)));
  for (int64_t r = 0; r < 2; ++r) EXPECT_TRUE(torch::equal(averaged[r], torch::tensor({1.f, 1.f, 5.f})));
}

TEST_F(DataParallelTest, DriftingReplicasAreNamed) {
  std::vector<std::string> messages(2);
  run_ranks(2, [&](int64_t rank, std::shared_ptr<distributed::Communicator> comm) {
    distributed::DataParallel parallel({}, comm);
    try {
      parallel.check_replicas({torch::full({4}, rank == 1 ? 1.5 : 1.0)}, "weights");
    } catch (const distributed::DistributedError& e) {
      messages[rank] = e.what();
    }
  });
  for (const auto& m : messages) EXPECT_EQ(m, "rank 1's weights differ from rank 0's");
}

// Two ranks train a short L2W run through the real trainer: their parameters (backbone and WPN) end
// bit-identical, and the reported test metrics are those of one process evaluating rank 0's model.
TEST_F(DataParallelTest, L2WTrainingOnTwoRanksKeepsReplicasBitIdentical) {
  if (!std::filesystem::exists(L2W_FASHION_MNIST)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto data = dataset::load_data({"fashion-mnist", "", 256, 200});
  models::NetworkOptions arch;
  arch.msdnet(test::tiny_msdnet(1, 10));
  const std::string dir = test::temp_dir("l2w_ddp");
  std::vector<models::MultiExitNetwork> nets;
  std::vector<std::vector<torch::Tensor>> wpns(2);
  for (uint64_t seed : {5, 6}) {
    torch::manual_seed(seed);
    nets.push_back(models::make_network(arch));
  }
  std::vector<train::TrainResult> results(2);
  run_ranks(2, [&](int64_t rank, std::shared_ptr<distributed::Communicator> comm) {
    train::TrainerOptions o;
    o.run_dir(dir);
    o.epochs(1);
    o.batch_size(64);
    o.schedule().base_lr = 0.1;
    o.quiet(true);
    o.communicator(comm);
    results[rank] = train::Trainer(nets[rank], arch, data, o,
                                 [&, rank](models::MultiExitNetworkImpl& n, train::Sgd& sgd, distributed::DataParallel* p) {
                                   meta::MetaOptions m(n.num_exits());
                                   m.wpn().hidden_size(32);
                                   auto step = std::make_unique<meta::L2WStep>(n, sgd, m, p);
                                   wpns[rank] = step->wpn()->parameters();
                                   return step;
                                 }).run();
  });
  const auto a = nets[0]->parameters(), b = nets[1]->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  for (size_t i = 0; i < wpns[0].size(); ++i) EXPECT_TRUE(torch::equal(wpns[0][i], wpns[1][i])) << "WPN " << i;
  // The training moved the parameters away from rank 0's initialisation.
  torch::manual_seed(5);
  EXPECT_FALSE(torch::equal(models::make_network(arch)->parameters()[0], a[0]));

  dataset::BatchLoader test_loader(data.test, {}, dataset::LoaderOptions().batch_size(100));
  const auto single = eval::anytime_metrics(eval::collect_outputs(*nets[0], test_loader, torch::kCPU));
  for (int64_t r = 0; r < 2; ++r) {
    ASSERT_EQ(results[r].last_test.size(), single.size());
    for (size_t k = 0; k < single.size(); ++k) {
      EXPECT_EQ(results[r].last_test[k].top1, single[k].top1) << "rank " << r << " exit " << k;
      EXPECT_NEAR(results[r].last_test[k].loss, single[k].loss, 1e-5) << "rank " << r << " exit " << k;
    }
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/save_models/checkpoint_001.pth.tar"));
}

}  // namespace
}  // namespace l2w
