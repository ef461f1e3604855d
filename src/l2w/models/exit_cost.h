// Per-exit cumulative cost of a network (docs/algorithm.md, "Counting cost").
#pragma once

#include <vector>

#include "l2w/models/multi_exit_network.h"
#include "l2w/nn/cost_meter.h"

namespace l2w::models {

// flops[k] and params[k] count everything run from the input to exit k's classifier, earlier exits
// included. `input_shape` is one image's {C, H, W}; the count runs a zero batch of one.
std::vector<nn::Cost> exit_costs(MultiExitNetworkImpl& net, const std::vector<int64_t>& input_shape);

}  // namespace l2w::models
