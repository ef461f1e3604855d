// What `l2w serve` and `l2w bench serve` share: their flags, and the library's serving stack
// (serve/serving_stack.h) with the options the flags give, its errors under the flags' names.
#pragma once

#include <memory>

#include "l2w/serve/service.h"
#include "l2w/serve/serving_stack.h"
#include "run_flags.h"

namespace l2w::cli {

struct ServeFlags {
  RunFlags common;
  serve::ServingOptions serving;  // --slo-ms, --budgets, --budget, --max-batch, ..., --bind, --port, --access-log
  infer::DeploymentOptions deployment;
};

// The run's flags, --evaluate_from, the serving flags, the deployment's and --exit-criterion; `listening`
// adds --bind, --port and --access-log (bench serve listens on a free loopback port).
void add_server_flags(CLI::App& app, ServeFlags& flags, bool listening);

struct Serving {
  dataset::DataSplits data;
  std::unique_ptr<serve::ServingStack> stack;
};

// The serving stack for --evaluate_from and the serving flags, not yet warmed up.
Serving prepare_serving(const ServeFlags& flags);
// warm_up(), --budget's pinned budget (-1: adaptive), each with the flags' names in its errors.
void warm_up(Serving& s);
int64_t pinned_budget(const Serving& s);

}  // namespace l2w::cli
