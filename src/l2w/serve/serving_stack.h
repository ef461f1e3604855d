// What `l2w serve` and `l2w bench serve` stand on, built from its options with one checkpoint load
// (docs/serving.md): the trained network deployed as `l2w infer` deploys it, its budget menu (read, or
// fitted on the validation images and written to the run folder), the budgeted engine, each budget's
// measured batch time, and the controller, queue and server options over them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "l2w/dataset/data_sets.h"
#include "l2w/infer/deployment.h"
#include "l2w/models/network_options.h"
#include "l2w/serve/budget_controller.h"
#include "l2w/serve/budgeted_engine.h"
#include "l2w/serve/http_server.h"
#include "l2w/serve/image_input.h"
#include "l2w/serve/inference_queue.h"

namespace l2w::serve {

struct ServingOptions {
  // A checkpoint, or a run folder (its best checkpoint), of the architecture `arch`.
  TORCH_ARG(std::string, checkpoint);
  TORCH_ARG(models::NetworkOptions, arch);
  // The run folder: its held-out images (use_valid) choose the thresholds, and a fitted menu is written
  // there as budgets.txt.
  TORCH_ARG(std::string, run_dir) = "runs/default";
  TORCH_ARG(bool, use_valid) = false;
  // A menu file to read instead of fitting one.
  TORCH_ARG(std::string, budgets);
  // > 0: always the most expensive budget within these MUL-ADDs per image, instead of adapting.
  TORCH_ARG(double, budget_muladds) = 0;
  TORCH_ARG(criterion::ExitCriterion, exit_criterion) = criterion::ExitCriterion::kMaxProb;
  TORCH_ARG(ControllerOptions, controller);
  TORCH_ARG(QueueOptions, queue);
  TORCH_ARG(ServerOptions, server);
  TORCH_ARG(infer::DeploymentOptions, deployment);
  TORCH_ARG(torch::Device, device) = torch::kCPU;
  // Fitting the menu: batches of at least 256 validation images, made on this many threads.
  TORCH_ARG(int64_t, workers) = 1;
  TORCH_ARG(bool, skip_bad_images) = false;

 public:
  // What a deployer sets: the latency target, budgets, batching, limits ("serving") and where it listens
  // ("listening"); the network, data and deployment come from their own options.
  static const options::OptionList<ServingOptions>& option_list();
};

class ServingStack {
 public:
  // Loads the checkpoint once, reads or fits the menu (std::invalid_argument naming the field for a menu
  // made for another network or criterion), deploys and plans the network and makes the engine.
  ServingStack(const dataset::DataSplits& data, ServingOptions options);

  // Warms every batch size up on test images and, unless the budget is pinned, measures each budget's
  // batch time (what the controller predicts with).
  void warm_up();

  // The pinned budget's index in the menu, or -1 when adaptive; std::invalid_argument naming
  // budget_muladds when even the cheapest budget costs more.
  int64_t pinned_budget() const;
  // The controller the options ask for: adaptive, or pinned at `pinned` (>= 0).
  BudgetController controller(int64_t pinned) const;
  // Classifies a batch at a budget: the queue's engine.
  BatchEngine batch_engine();
  // Images per second the full network sustains in batches of controller.max_batch, as measured.
  double full_capacity() const;

  const ServingOptions& options() const { return options_; }
  const BudgetMenu& menu() const { return engine_->menu(); }
  const infer::DeployedNetwork& network() const { return network_; }
  // Zeros until warm_up() measured them; a pinned server measures the full network's only.
  const std::vector<ServiceTime>& times() const { return times_; }
  const InputFormat& format() const { return format_; }
  // What was deployed and on how many threads, and where the menu came from, for a report.
  const std::string& network_report() const { return network_report_; }
  const std::string& threads_report() const { return threads_report_; }
  const std::string& precision_report() const { return precision_report_; }
  const std::string& menu_report() const { return menu_report_; }

 private:
  ServingOptions options_;
  dataset::DataSplits data_;
  infer::DeployedNetwork network_;
  std::unique_ptr<BudgetedEngine> engine_;
  std::vector<ServiceTime> times_;
  InputFormat format_;
  std::string network_report_, threads_report_, precision_report_, menu_report_;
};

}  // namespace l2w::serve
