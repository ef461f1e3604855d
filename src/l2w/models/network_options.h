// Which backbone to build, and how: the one place that maps architecture flags to a network.
#pragma once

#include <string>

#include "l2w/models/msdnet.h"
#include "l2w/models/ranet.h"
#include "l2w/models/multi_exit_network.h"

namespace l2w::models {

enum class Arch { kMSDNet, kRANet };

// The reference's names, as checkpoints store them and --arch takes them: "msdnet" and "RANet".
std::string arch_name(Arch arch);
// Accepts either name in any letter case; std::invalid_argument for anything else.
Arch parse_arch(const std::string& name);

struct NetworkOptions {
  // Which backbone; only its options below are used.
  TORCH_ARG(Arch, arch) = Arch::kMSDNet;
  TORCH_ARG(MSDNetOptions, msdnet);
  TORCH_ARG(RANetOptions, ranet);
};

MultiExitNetwork make_network(const NetworkOptions& options);

// A canonical one-line description of the architecture (stored in checkpoints, shown in errors).
std::string describe(const NetworkOptions& options);

}  // namespace l2w::models
