// What `l2w serve` and `l2w bench serve` share: the network deployed as `infer` deploys it, its budget
// menu, each budget's measured batch time, and the queue and server built on them.
#pragma once

#include <memory>

#include "command_support.h"
#include "l2w/serve/budgeted_engine.h"
#include "l2w/serve/http_server.h"

namespace l2w::cli {

struct Serving {
  dataset::DataSplits data;
  infer::DeployedNetwork network;
  std::unique_ptr<serve::BudgetedEngine> engine;
  std::vector<serve::ServiceTime> times;  // per budget of engine->menu(); zeros when not measured
  serve::InputFormat format;
  std::string network_report, threads_report;
};

// Deploys --evaluate_from and reads --budgets or fits the menu on the validation images (and writes it
// to RUN/budgets.txt); s.times are zeros.
Serving prepare_serving(const Flags& flags);
// Warms every batch size up and, with `measure` (what the adaptive budget and the benchmark need, not a
// pinned budget), times each budget on a batch of test images into s.times.
void warm_up_serving(const Flags& flags, Serving& s, bool measure);

// The controller the flags ask for: adaptive to --slo-ms, or pinned at `pinned` (>= 0).
serve::BudgetController budget_controller(const Flags& flags, const Serving& s, int64_t pinned);
// --budget's budget, or -1 (adaptive).
int64_t pinned_budget(const Flags& flags, const Serving& s);
serve::ServerOptions server_options(const Flags& flags, int port);
// Images per second the full network sustains in batches of --max-batch, as measured.
double full_capacity(const Flags& flags, const Serving& s);

}  // namespace l2w::cli
