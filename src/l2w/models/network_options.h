// Which backbone to build, and how: the one place that maps architecture flags to a network.
#pragma once

#include <string>

#include "l2w/models/msdnet.h"
#include "l2w/models/ranet.h"
#include "l2w/models/multi_exit_network.h"

namespace l2w::models {

struct NetworkOptions {
  std::string arch = "msdnet";  // msdnet | RANet
  MSDNetOptions msdnet;
  RANetOptions ranet;
};

MultiExitNetwork make_network(const NetworkOptions& options);

// A canonical one-line description of the architecture (stored in checkpoints, shown in errors).
std::string describe(const NetworkOptions& options);

}  // namespace l2w::models
