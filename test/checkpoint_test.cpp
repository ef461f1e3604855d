#include <fstream>

#include <gtest/gtest.h>

#include "l2w/models/network_options.h"
#include "l2w/io/checkpoint.h"
#include "l2w/train/sgd.h"
#include "l2w/train/trainer.h"
#include "test_util.h"

namespace l2w {
namespace {

io::Checkpoint make_checkpoint(models::MultiExitNetworkImpl& net, const models::NetworkOptions& arch) {
  train::Sgd sgd(net.parameters(), train::SgdOptions());
  for (auto& p : net.parameters()) p.mutable_grad() = torch::ones_like(p);
  sgd.step();
  io::Checkpoint c;
  c.epoch = 7;
  c.arch = net.arch();
  c.config = models::describe(arch);
  c.state_dict = io::state_dict(net);
  c.optimizer = sgd.state_dict();
  c.best_prec1 = 42.5;
  return c;
}

TEST(Checkpoint, RoundTripsEveryTensorAndField) {
  models::NetworkOptions arch;
  arch.msdnet(test::tiny_msdnet());
  auto net = models::make_network(arch);
  const auto c = make_checkpoint(*net, arch);
  const auto path = test::temp_dir("ckpt") + "/c.pth.tar";
  io::save_checkpoint(c, path);
  const auto back = io::load_checkpoint(path);
  EXPECT_EQ(back.epoch, 7);
  EXPECT_EQ(back.arch, "msdnet");
  EXPECT_EQ(back.config, c.config);
  EXPECT_DOUBLE_EQ(back.best_prec1, 42.5);
  ASSERT_EQ(back.state_dict.size(), c.state_dict.size());
  for (const auto& item : c.state_dict) EXPECT_TRUE(torch::equal(item.value(), back.state_dict[item.key()])) << item.key();
  auto other = models::make_network(arch);
  io::load_state_dict(*other, back.state_dict, path);
  train::Sgd sgd(other->parameters(), train::SgdOptions());
  sgd.load_state_dict(back.optimizer);
  const auto saved = c.optimizer.toGenericDict().at("state").toGenericDict().at(3).toGenericDict();
  EXPECT_TRUE(torch::equal(sgd.momentum_buffers()[3], saved.at("momentum_buffer").toTensor()));
}

TEST(Checkpoint, TruncatedAndForeignFilesAreRefusedWithTheirName) {
  models::NetworkOptions arch;
  arch.msdnet(test::tiny_msdnet());
  auto net = models::make_network(arch);
  const auto dir = test::temp_dir("ckpt_bad");
  io::save_checkpoint(make_checkpoint(*net, arch), dir + "/good.pth.tar");
  std::filesystem::copy_file(dir + "/good.pth.tar", dir + "/cut.pth.tar");
  std::filesystem::resize_file(dir + "/cut.pth.tar", std::filesystem::file_size(dir + "/good.pth.tar") / 2);
  try {
    io::load_checkpoint(dir + "/cut.pth.tar");
    FAIL() << "accepted a truncated checkpoint";
  } catch (const io::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.pth.tar"), std::string::npos);
  }
  std::ofstream(dir + "/text.pth.tar") << "not a checkpoint";
  EXPECT_THROW(io::load_checkpoint(dir + "/text.pth.tar"), io::CheckpointError);
  EXPECT_THROW(io::load_checkpoint(dir + "/absent.pth.tar"), io::CheckpointError);
}

TEST(Checkpoint, AnotherArchitectureOrClassCountIsRefused) {
  models::NetworkOptions arch;
  arch.msdnet(test::tiny_msdnet());
  auto net = models::make_network(arch);
  const auto c = make_checkpoint(*net, arch);
  models::NetworkOptions wider = arch;
  wider.msdnet().num_classes(100);
  try {
    train::check_architecture(c, "c.pth.tar", wider);
    FAIL();
  } catch (const io::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("classes=10"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("classes=100"), std::string::npos);
  }
  // Without the config line (e.g. a bare state_dict), the strict key/shape check still refuses it.
  auto other = models::make_network(wider);
  try {
    io::load_state_dict(*other, c.state_dict, "c.pth.tar");
    FAIL();
  } catch (const io::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("classifier.0.linear.weight [10, 128] vs model [100, 128]"), std::string::npos)
        << e.what();
  }
  models::NetworkOptions deeper = arch;
  deeper.msdnet().n_blocks(4);
  auto bigger = models::make_network(deeper);
  try {
    io::load_state_dict(*bigger, c.state_dict, "c.pth.tar");
    FAIL();
  } catch (const io::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("missing keys"), std::string::npos);
  }
}

TEST(Checkpoint, DistributedPrefixIsAccepted) {
  models::NetworkOptions arch;
  arch.msdnet(test::tiny_msdnet());
  auto net = models::make_network(arch);
  io::StateDict prefixed;
  for (const auto& item : io::state_dict(*net)) prefixed.insert("module." + item.key(), item.value() + 0);
  auto other = models::make_network(arch);
  io::load_state_dict(*other, prefixed, "ddp");
  EXPECT_TRUE(torch::equal(other->parameters()[0], net->parameters()[0]));
}

}  // namespace
}  // namespace l2w
