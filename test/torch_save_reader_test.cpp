// Checkpoints across Python and C++: files written by Python's torch.save (the build's Python torch, L2W_PYTHON) load
// into l2w, and l2w's load in Python's torch.load, bit for bit.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <vector>

#include <gtest/gtest.h>

#include "l2w/meta/l2w_step.h"
#include "l2w/models/imta_network.h"
#include "l2w/models/msdnet.h"
#include "l2w/nn/conv_blocks.h"
#include "l2w/io/checkpoint.h"
#include "l2w/train/sgd.h"
#include "l2w/io/torch_save_reader.h"
#include "test_util.h"

namespace l2w {
namespace {

const std::string kScript = std::string(L2W_SOURCE_DIR) + "/test/python/checkpoint_interop.py";
const std::string kKeys = std::string(L2W_TEST_DATA) + "/msdnet_tiny_cifar10_state_dict_keys.tsv";

// Runs the Python side; the test fails on a non-zero exit.
bool python(const std::string& args) {
  const std::string command = std::string(L2W_PYTHON) + " " + kScript + " " + args;
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << command;
  return status == 0;
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The reference files Python writes are the same for every test here and every run of them (a test run
// alone, the suite, the suite again): they are written once per build, into a folder named after what
// produces them (the script, this file, which says what to write, the key list, the Python), and renamed
// into place whole, only when Python succeeded, so that processes side by side never read half of it.
std::string reference_files() {
  const auto key = std::hash<std::string>()(file_text(kScript) + file_text(__FILE__) + file_text(kKeys) + L2W_PYTHON);
  const std::filesystem::path dir = std::string(L2W_TEST_WORK) + "/interop_" + std::to_string(key);
  if (std::filesystem::exists(dir)) return dir.string();
  const auto fresh = test::temp_dir("interop_fresh");
  // The reference's checkpoint, and L2W checkpoints of one- and three-layer MLP_tanh networks with Adam state.
  const std::string writes = "write " + fresh + " " + kKeys + " + write_l2w " + fresh + " " + fresh + " 1 3" +
                             " + write_l2w " + fresh + " " + fresh + " 3 6 + write_imta " + fresh + " " + kKeys;
  if (!python(writes)) return fresh;  // the tests fail on what is missing
  std::error_code lost_race;  // another test renamed its copy first: use that one
  std::filesystem::rename(fresh, dir, lost_race);
  if (lost_race) std::filesystem::remove_all(fresh);
  return dir.string();
}

class TorchSaveInterop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_ = reference_files();
    dir_ = test::temp_dir("interop");
  }
  static std::string reference_, dir_;
};
std::string TorchSaveInterop::reference_, TorchSaveInterop::dir_;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const io::CheckpointError& e) {
    return e.what();
  }
  return "";
}

TEST_F(TorchSaveInterop, PythonCheckpointLoadsIntoTheReferenceKeysAndComputesTheSameFirstLayer) {
  const auto checkpoint = io::load_checkpoint(reference_ + "/reference.pth.tar");
  EXPECT_EQ(checkpoint.epoch, 12);
  EXPECT_EQ(checkpoint.arch, "msdnet");
  EXPECT_DOUBLE_EQ(checkpoint.best_prec1, 61.25);
  EXPECT_EQ(checkpoint.state_dict.size(), 318u);
  EXPECT_EQ(checkpoint.state_dict["blocks.0.0.layers.0.net.1.num_batches_tracked"].item<int64_t>(), 7);

  models::MSDNet net(test::tiny_msdnet());
  io::load_state_dict(*net, checkpoint.state_dict, "reference.pth.tar");
  net->eval();
  const auto expected = io::read_torch_save(reference_ + "/first_layer.pt").toGenericDict();
  torch::Tensor h = expected.at("input").toTensor();
  const auto modules = net->named_modules();
  for (int s = 0; s < 3; ++s) {
    auto conv = modules["blocks.0.0.layers." + std::to_string(s)]->as<nn::ConvBasicImpl>();
    ASSERT_NE(conv, nullptr);
    h = conv->forward(h);
    const auto python_output = expected.at("scale" + std::to_string(s)).toTensor();
    EXPECT_TRUE(torch::allclose(h, python_output, 1e-4, 1e-5)) << "scale " << s;
  }

  // The SGD state (momentum buffers, written with APPEND opcodes) loads into l2w's optimizer.
  train::Sgd sgd(net->parameters(), train::SgdOptions());
  sgd.load_state_dict(checkpoint.optimizer);
  EXPECT_DOUBLE_EQ(sgd.options().lr(), 0.05);
  const auto state = checkpoint.optimizer.toGenericDict().at("state").toGenericDict();
  ASSERT_EQ(static_cast<size_t>(state.size()), net->parameters().size());
  for (size_t i = 0; i < sgd.momentum_buffers().size(); ++i)
    EXPECT_TRUE(torch::equal(sgd.momentum_buffers()[i],
                             state.at(static_cast<int64_t>(i)).toGenericDict().at("momentum_buffer").toTensor()));
}

TEST_F(TorchSaveInterop, BareAndDistributedStateDictsLoad) {
  const auto reference = io::load_checkpoint(reference_ + "/reference.pth.tar").state_dict;
  for (const char* file : {"/bare.pth", "/ddp.pth.tar"}) {
    const auto checkpoint = io::load_checkpoint(reference_ + file);
    models::MSDNet net(test::tiny_msdnet());
    io::load_state_dict(*net, checkpoint.state_dict, file);
    const auto loaded = io::state_dict(*net);
    for (const auto& item : reference) EXPECT_TRUE(torch::equal(loaded[item.key()], item.value())) << file << item.key();
  }
}

TEST_F(TorchSaveInterop, RoundTripsBetweenCppAndPythonAreBitExact) {
  auto checkpoint = io::load_checkpoint(reference_ + "/reference.pth.tar");
  models::MSDNet net(test::tiny_msdnet());
  io::load_state_dict(*net, checkpoint.state_dict, "reference");
  train::Sgd sgd(net->parameters(), train::SgdOptions().lr(0.05).momentum(0.9).weight_decay(1e-4));
  sgd.load_state_dict(checkpoint.optimizer);
  io::Checkpoint written;
  written.epoch = checkpoint.epoch;
  written.arch = "msdnet";
  written.state_dict = io::state_dict(*net);
  written.optimizer = sgd.state_dict();
  written.best_prec1 = checkpoint.best_prec1;
  io::save_checkpoint(written, dir_ + "/from_cpp.pth.tar");
  // C++ -> Python: torch.load sees the reference's dictionary, bit for bit; and Python saves it again.
  ASSERT_TRUE(python("check " + reference_ + " " + dir_ + "/from_cpp.pth.tar + resave " + dir_ + "/from_cpp.pth.tar " +
                     dir_ + "/through_python.pth.tar"));
  // C++ -> Python -> C++: unchanged.
  const auto back = io::load_checkpoint(dir_ + "/through_python.pth.tar");
  ASSERT_EQ(back.state_dict.size(), written.state_dict.size());
  for (const auto& item : written.state_dict) {
    const auto& other = back.state_dict[item.key()];
    EXPECT_EQ(other.scalar_type(), item.value().scalar_type()) << item.key();
    EXPECT_TRUE(torch::equal(other, item.value())) << item.key();
  }
  train::Sgd reloaded(net->parameters(), train::SgdOptions());
  reloaded.load_state_dict(back.optimizer);
  for (size_t i = 0; i < sgd.momentum_buffers().size(); ++i)
    EXPECT_TRUE(torch::equal(reloaded.momentum_buffers()[i], sgd.momentum_buffers()[i]));
}

// The reference's L2W checkpoints: its MLP_tanh weights and torch.optim.Adam state resume in l2w (same outputs,
// same Adam moments), and what l2w writes back loads into MLP_tanh and torch.optim.Adam. One and three layers.
TEST_F(TorchSaveInterop, ReferenceL2wCheckpointsMoveBothWays) {
  const std::vector<std::pair<int, meta::WpnInput>> configurations{{1, meta::WpnInput::kLoss}, {3, meta::WpnInput::kBoth}};
  auto inputs_of = [](meta::WpnInput input) { return input == meta::WpnInput::kBoth ? "6" : "3"; };
  std::string checks;
  for (const auto& [layers, input] : configurations) {
    const std::string n = std::to_string(layers), inputs = inputs_of(input);
    checks += (checks.empty() ? "" : " + ") + std::string("check_l2w ") + reference_ + " " + n + " " + inputs + " " +
              dir_ + "/l2w_" + n + "_from_cpp.pth.tar";
  }
  for (const auto& [layers, input] : configurations) {
    const std::string n = std::to_string(layers);
    const auto checkpoint = io::load_checkpoint(reference_ + "/l2w_" + n + ".pth.tar");
    models::MSDNet net(test::tiny_msdnet());
    train::Sgd sgd(net->parameters(), train::SgdOptions());
    meta::MetaOptions options(3);
    options.wpn().hidden_size(16).num_layers(layers).input(input).epsilon(1.0).constraint(meta::Constraint::kMat);
    meta::L2WStep step(*net, sgd, options);
    step.load(checkpoint);

    // W = 1 + (tanh − mean(tanh)) with epsilon 1 and the `mat` constraint: the reference's tanh outputs.
    const auto expected = io::read_torch_save(reference_ + "/l2w_" + n + "_outputs.pt").toGenericDict();
    const auto x = expected.at("input").toTensor();
    const auto tanh = expected.at("output").toTensor();
    torch::NoGradGuard no_grad;
    const auto w = input == meta::WpnInput::kBoth ? step.wpn()->forward(x.slice(1, 0, 3), x.slice(1, 3, 6))
                                                   : step.wpn()->forward(x, x);
    EXPECT_TRUE(torch::allclose(w, 1 + tanh - tanh.mean(), 1e-6, 1e-6)) << layers << " layers";

    io::Checkpoint written = checkpoint;
    written.meta_state_dict = io::StateDict();
    written.meta_optimizer = c10::IValue();
    step.save(written);
    const auto state = written.meta_optimizer.toGenericDict().at("state").toGenericDict();
    EXPECT_EQ(state.size(), 2 * (layers + 1));
    io::save_checkpoint(written, dir_ + "/l2w_" + n + "_from_cpp.pth.tar");
  }
  python(checks);
}

// IMTA's second-stage checkpoints, as its main_IMTA.py saves them (DataParallel around IMTA_MSDNet around
// the DataParallel-wrapped backbone, the heads' SGD in two groups), load with their optimizer state; l2w's
// own load strictly into IMTA_MSDNet's layout.
TEST_F(TorchSaveInterop, ImtaSecondStageCheckpointsMoveBothWays) {
  const auto checkpoint = io::load_checkpoint(reference_ + "/imta.pth.tar");
  EXPECT_EQ(checkpoint.epoch, 4);
  EXPECT_DOUBLE_EQ(checkpoint.best_prec1, 55.5);
  models::ImtaNetwork imta(std::make_shared<models::MSDNetImpl>(test::tiny_msdnet()), 10);
  io::load_state_dict(*imta, checkpoint.state_dict, "imta.pth.tar");
  EXPECT_TRUE(torch::equal(imta->named_parameters()["net.blocks.0.0.layers.0.net.0.weight"],
                           checkpoint.state_dict["module.net.module.blocks.0.0.layers.0.net.0.weight"]));
  EXPECT_TRUE(torch::equal(imta->named_buffers()["isc_modules.1.1.running_var"],
                           checkpoint.state_dict["module.isc_modules.1.1.running_var"]));
  train::Sgd sgd(imta->parameters(), train::SgdOptions().momentum(0.9));
  sgd.load_state_dict(checkpoint.optimizer);
  EXPECT_DOUBLE_EQ(sgd.options().lr(), 0.05);
  // The optimizer numbers only the trainable parameters: the first is head 0's weight.
  const auto state = sgd.state_dict().toGenericDict().at("state").toGenericDict();
  const auto params = imta->parameters();
  size_t head0 = 0;
  while (!params[head0].requires_grad()) ++head0;
  EXPECT_TRUE(params[head0].is_same(imta->named_parameters()["classifier.0.weight"]));
  const auto python_state = checkpoint.optimizer.toGenericDict().at("state").toGenericDict();
  EXPECT_TRUE(torch::equal(state.at(int64_t(head0)).toGenericDict().at("momentum_buffer").toTensor(),
                           python_state.at(int64_t(0)).toGenericDict().at("momentum_buffer").toTensor()));
  EXPECT_EQ(state.size(), python_state.size());

  io::Checkpoint written;
  written.arch = imta->arch();
  written.state_dict = io::state_dict(*imta);
  io::save_checkpoint(written, dir_ + "/imta_from_cpp.pth.tar");
  python("check_imta " + reference_ + " " + kKeys + " " + dir_ + "/imta_from_cpp.pth.tar");
}

TEST_F(TorchSaveInterop, BadFilesAreRefusedWithTheirNameAndTheProblem) {
  const auto truncated = dir_ + "/truncated.pth.tar";
  std::filesystem::copy_file(reference_ + "/reference.pth.tar", truncated, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(truncated, std::filesystem::file_size(truncated) / 2);
  auto message = error_of([&] { io::load_checkpoint(truncated); });
  EXPECT_NE(message.find(truncated), std::string::npos) << message;

  std::ofstream(dir_ + "/text.pth.tar") << "epoch 3\n";
  message = error_of([&] { io::load_checkpoint(dir_ + "/text.pth.tar"); });
  EXPECT_NE(message.find("not a torch.save zip archive"), std::string::npos) << message;

  message = error_of([&] { io::load_checkpoint(reference_ + "/bad_opcode.pth.tar"); });
  EXPECT_NE(message.find("unsupported pickle opcode 0xff"), std::string::npos) << message;

  // Another configuration: the CIFAR-10 checkpoint into a CIFAR-100 network.
  const auto checkpoint = io::load_checkpoint(reference_ + "/reference.pth.tar");
  models::MSDNet other(test::tiny_msdnet(3, 100));
  message = error_of([&] { io::load_state_dict(*other, checkpoint.state_dict, "reference.pth.tar"); });
  EXPECT_NE(message.find("classifier"), std::string::npos) << message;
}

}  // namespace
}  // namespace l2w
