// The flags of every command on a network: the runtime, the data set and the architecture (the
// reference's spellings; docs/cli.md).
#pragma once

#include <optional>
#include <vector>

#include "l2w/dataset/data_sets.h"
#include "l2w/models/network_options.h"
#include "l2w/runtime/process_setup.h"
#include "option_flags.h"

namespace l2w::cli {

// --stepmode: MSDNet takes even or lin_grow, RANet even or lg.
enum class StepModeFlag { kEven, kLinGrow, kLg };

struct ModelFlags {
  runtime::RuntimeOptions runtime;  // --threads, --device
  dataset::DataOptions data;        // --data, --data_url, --train-limit, --test-limit
  models::Arch arch = models::Arch::kMSDNet;
  models::MSDNetOptions msdnet;  // MSDNet's own flags: --base, --prune, --bottleneck
  models::RANetOptions ranet;    // RANet's own: --block-step, --scale-list, --compress-factor
  // Flags both backbones take; left out, the chosen backbone's default.
  std::optional<int64_t> n_blocks, n_channels, step, growth_rate;
  std::optional<std::vector<int64_t>> gr_factor, bn_factor;
  std::optional<StepModeFlag> stepmode;
  std::optional<double> reduction;
  bool bn_after = true;     // accepted as the reference's RANet flag; BatchNorm always follows each conv
  bool imta_stage2 = false;  // IMTA's second-stage heads (ISC) on the backbone
};

void add_runtime_flags(CLI::App& app, runtime::RuntimeOptions& runtime);  // --threads, --device
void add_model_flags(CLI::App& app, ModelFlags& flags);  // the runtime, data set and architecture flags

// Sets LibTorch's thread count and the allocator's policy, and returns the device; errors name the flag.
torch::Device setup_runtime(const runtime::RuntimeOptions& runtime);
models::NetworkOptions network_options(const ModelFlags& flags, const dataset::DataGeometry& geometry);
// The geometry of --data with the class count of the loaded data (an image folder has its own).
dataset::DataGeometry data_geometry(const ModelFlags& flags, const dataset::DataSplits& data);

}  // namespace l2w::cli
