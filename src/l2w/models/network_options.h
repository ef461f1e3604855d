// Which backbone to build, and how: the one place that maps architecture flags to a network.
#pragma once

#include <string>
#include <vector>

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
  // IMTA's second-stage heads on the backbone (models/imta_network.h); its name becomes IMTA_<arch>.
  TORCH_ARG(bool, imta_heads) = false;
};

MultiExitNetwork make_network(const NetworkOptions& options);

// A canonical one-line description of the architecture (stored in checkpoints, shown in errors): the
// name, then key=value for every field of the backbone's options, in their order.
std::string describe(const NetworkOptions& options);

// Where a description stored in a checkpoint differs from `options`, one entry per field
// ("nBlocks: 5 there, 7 here"; the architecture's name first when it differs); empty when they agree. A
// field the stored description lacks (written before the field existed) agrees when `options` has
// the field's default.
std::vector<std::string> description_differences(const std::string& stored, const NetworkOptions& options);

// The options a description (describe()'s line, as checkpoints store it) was written from; fields it
// lacks keep their defaults. std::invalid_argument naming what it does not know.
NetworkOptions options_from_description(const std::string& description);
// Sets the chosen backbone's field named by its key ("nBlocks") or member name ("n_blocks") from text
// ("1-2-4", "true", "lin_grow"); std::invalid_argument naming the field when there is no such field or
// it does not take the value.
void set_field(NetworkOptions& options, const std::string& field, const std::string& value);
// The fields set_field takes for an architecture: each by its description key, then by its member name
// where that differs.
std::vector<std::string> field_names(Arch arch);

}  // namespace l2w::models
