#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "l2w/models/exit_cost.h"
#include "l2w/train/trained_network.h"
#include "model_flags.h"

namespace l2w::cli {
namespace {

struct FlopsFlags {
  ModelFlags model;
  bool json = false;
};

int run_flops(const FlopsFlags& flags) {
  setup_runtime(flags.model.runtime);
  const auto geometry = dataset::geometry(flags.model.data.name);
  const auto options = network_options(flags.model, geometry);
  models::MultiExitNetwork net{nullptr};
  try {
    net = train::build_network(train::NetworkBuildOptions().arch(options));
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
  const auto costs = models::exit_costs(*net, {geometry.channels, geometry.height, geometry.width});
  if (flags.json) {
    nlohmann::ordered_json out = {{"flops", nlohmann::json::array()}, {"params", nlohmann::json::array()}};
    for (const auto& c : costs) {
      out["flops"].push_back(c.muladds);
      out["params"].push_back(c.params);
    }
    std::cout << out.dump() << std::endl;
    return 0;
  }
  std::cout << models::describe(options) << "\nexit   MUL-ADDs        params\n";
  for (size_t k = 0; k < costs.size(); ++k)
    std::cout << k + 1 << "\t" << costs[k].muladds << "\t" << costs[k].params << "\n";
  return 0;
}

}  // namespace

Subcommand add_flops_command(CLI::App& parent) {
  auto flags = std::make_shared<FlopsFlags>();
  auto* app = parent.add_subcommand("flops", "per-exit cumulative MUL-ADDs and parameters");
  add_model_flags(*app, flags->model);
  app->add_flag("--json", flags->json, "one JSON object {\"flops\": [...], \"params\": [...]}");
  return {app, [flags] { return run_flops(*flags); }};
}

}  // namespace l2w::cli
