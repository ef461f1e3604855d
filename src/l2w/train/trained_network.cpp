#include "l2w/train/trained_network.h"
#include "l2w/runtime/option_list.h"

#include <filesystem>

#include "l2w/io/checkpoint.h"
#include "l2w/io/run_folder.h"
#include "l2w/io/state_dict.h"
#include "l2w/models/imta_network.h"
#include "l2w/train/run_checkpoints.h"

namespace l2w::train {

namespace {

// The network of `arch` with fresh parameters; OptionError naming imta_stage2 for a backbone
// whose exits offer no features for IMTA's heads.
models::MultiExitNetwork make(const models::NetworkOptions& arch) {
  try {
    return models::make_network(arch);
  } catch (const std::logic_error& e) {
    if (!arch.imta_heads() || dynamic_cast<const std::invalid_argument*>(&e) != nullptr) throw;
    throw options::OptionError("imta_stage2", e.what());
  }
}

}  // namespace

models::MultiExitNetwork build_network(const NetworkBuildOptions& options) {
  const bool imta = options.arch().imta_heads();
  if (imta && options.gradient_equilibrium())
    throw options::OptionError("gradient_equilibrium",
                               "IMTA's first stage only; the second stage trains new heads on a frozen backbone");
  if (!options.imta_from().empty() && !imta) throw options::OptionError("imta_from", "only for IMTA's second stage");
  torch::manual_seed(options.seed());
  auto net = make(options.arch());
  try {
    net->set_gradient_equilibrium(options.gradient_equilibrium());
  } catch (const std::invalid_argument& e) {
    throw options::OptionError("gradient_equilibrium", e.what());
  }
  if (imta) {
    auto& heads = dynamic_cast<models::ImtaNetworkImpl&>(*net);
    heads.freeze_backbone_statistics(options.imta_freeze_backbone_bn());
    if (!options.imta_from().empty()) {
      const auto first_stage = io::load_checkpoint(options.imta_from());
      auto backbone_arch = options.arch();
      backbone_arch.imta_heads(false);
      check_architecture(first_stage, options.imta_from(), backbone_arch);
      io::load_state_dict(*heads.backbone(), first_stage.state_dict, options.imta_from());
    }
  }
  return net;
}

std::string checkpoint_path(const std::string& checkpoint_or_run) {
  if (!std::filesystem::is_directory(checkpoint_or_run)) return checkpoint_or_run;
  const io::RunFolder folder(checkpoint_or_run);
  if (std::filesystem::exists(folder.best_checkpoint())) return folder.best_checkpoint();
  if (const auto latest = folder.latest_checkpoint()) return *latest;
  throw io::CheckpointError(checkpoint_or_run + ": a folder without save_models/model_best.pth.tar or latest.txt");
}

models::MultiExitNetwork load_trained_network(const std::string& checkpoint_or_run, const models::NetworkOptions& arch) {
  const auto path = checkpoint_path(checkpoint_or_run);
  const auto checkpoint = io::load_checkpoint(path);
  check_architecture(checkpoint, path, arch);
  auto net = make(arch);
  io::load_state_dict(*net, checkpoint.state_dict, path);
  net->eval();
  return net;
}

}  // namespace l2w::train
