#include <iostream>

#include "command_support.h"
#include "commands.h"
#include "training_flags.h"
#include "l2w/train/preemption.h"

namespace l2w::cli {
namespace {

int run_train(const TrainFlags& flags) {
  const auto& common = flags.common;
  if (common.model.imta_stage2 && flags.imta_from.empty())
    throw FlagError("--imta-stage2: training the second stage needs --imta-from CKPT, the first stage's checkpoint");
  if (!flags.imta_from.empty() && !common.model.imta_stage2) throw FlagError("--imta-from: only with --imta-stage2");
  if (common.model.imta_stage2 && flags.method.method() == meta::Method::kL2W)
    throw FlagError("--imta-stage2: the second stage trains by distillation (--method plain); L2W weights the first "
                    "stage (docs/algorithm.md, \"IMTA\")");
  torch::Device device = setup_runtime(common.model.runtime);
  check_batch_divides(flags);
  const auto comm = join_job(flags, device);
  const bool is_main = comm == nullptr || comm->rank() == 0;
  const auto data = dataset::load_data(common.model.data);
  const auto geometry = data_geometry(common.model, data);
  const auto options = network_options(common.model, geometry);
  auto net = build_network(flags, options);
  const auto trainer_opts = trainer_options(flags, device).communicator(comm);

  if (is_main)
    std::cout << "l2w train: " << models::describe(options) << "\n  data " << common.model.data.name << ": "
            << data.train->size() << " train / " << data.test->size() << " test, method " << meta::method_name(flags.method.method())
              << (flags.gradient_equilibrium ? " with gradient equilibrium" : "")
              << (common.model.imta_stage2 ? ", IMTA's second stage on " + flags.imta_from : std::string())
            << ", " << at::get_num_threads() << " threads, device " << device
            << (comm ? ", " + std::to_string(comm->world_size()) + " processes" : std::string()) << std::endl;
  // A scheduler's pre-emption or Ctrl-C: a checkpoint at the end of the iteration, then exit status 75.
  train::StopSignals stop_signals;
  train::TrainResult result;
  try {
    result = train::Trainer(net, options, data, trainer_opts, meta::step_factory(method_options(flags))).run();
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);  // an option the library refused, named by its field
  }
  if (!is_main) return 0;
  std::cout << "\nFinal test results (" << common.run.run_dir() << "):\n"
            << eval::anytime_table(result.last_test, result.costs)
            << "\nBudgeted batch classification (dynamic.txt):\n"
            << eval::dynamic_table(result.dynamic);
  plot_run(common.run.run_dir(), report::make_run_curve(report::run_label(common.run.run_dir()),
                                                 result.last_test, result.costs, result.dynamic));
  return 0;
}

}  // namespace

Subcommand add_train_command(CLI::App& parent) {
  auto flags = std::make_shared<TrainFlags>();
  auto* app = parent.add_subcommand("train", "train a multi-exit network (--method l2w | plain)");
  add_training_flags(*app, *flags);
  return {app, [flags, app] {
            apply_data_defaults(*app, flags->common);
            return run_train(*flags);
          }};
}

}  // namespace l2w::cli
