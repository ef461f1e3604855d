// Building a network for training and loading a trained one: what every program over the library does
// first (the `l2w` command, the Python package). Errors name the option (its field) at fault.
#pragma once

#include <string>

#include "l2w/models/network_options.h"

namespace l2w::train {

struct NetworkBuildOptions {
  TORCH_ARG(models::NetworkOptions, arch);
  // The parameters' initialisation draws from LibTorch's generator, seeded with this first.
  TORCH_ARG(uint64_t, seed) = 0;
  // IMTA's gradient equilibrium (first stage; MSDNet only).
  TORCH_ARG(bool, gradient_equilibrium) = false;
  // IMTA's second stage (arch.imta_heads): the first stage's checkpoint, loaded into the frozen backbone.
  TORCH_ARG(std::string, imta_from);
  // IMTA's second stage: the backbone stays in eval mode, its BatchNorm statistics fixed.
  TORCH_ARG(bool, imta_freeze_backbone_bn) = false;
};

// The network the options describe. std::invalid_argument naming the field for options that do not
// combine; io::CheckpointError for a first stage of another architecture.
models::MultiExitNetwork build_network(const NetworkBuildOptions& options);

// The checkpoint a path names: the path itself when it is a file, or a run folder's best checkpoint
// (else the one its latest.txt names). io::CheckpointError when there is none.
std::string checkpoint_path(const std::string& checkpoint_or_run);

// The trained network of a checkpoint or run folder, on the CPU in eval mode, its architecture checked
// against `arch` (io::CheckpointError naming the differences) and its weights loaded strictly.
models::MultiExitNetwork load_trained_network(const std::string& checkpoint_or_run, const models::NetworkOptions& arch);

}  // namespace l2w::train
