// What `l2w serve` and `l2w bench serve` share: the library's serving stack (serve/serving_stack.h) with
// the options the flags give, its errors under the flags' names.
#pragma once

#include <memory>

#include "command_support.h"
#include "l2w/serve/service.h"
#include "l2w/serve/serving_stack.h"

namespace l2w::cli {

struct Serving {
  dataset::DataSplits data;
  std::unique_ptr<serve::ServingStack> stack;
};

// The serving stack for --evaluate_from and the serving flags, not yet warmed up.
Serving prepare_serving(const Flags& flags);
// warm_up(), --budget's pinned budget (-1: adaptive), each with the flags' names in its errors.
void warm_up(Serving& s);
int64_t pinned_budget(const Serving& s);

}  // namespace l2w::cli
