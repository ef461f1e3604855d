#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "l2w/models/exit_cost.h"

namespace l2w::cli {

int flops_command(const Flags& flags) {
  setup_runtime(flags);
  const auto geometry = dataset::geometry(flags.data.name);
  const auto options = network_options(flags, geometry);
  auto net = build_network(flags, options);
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

}  // namespace l2w::cli
