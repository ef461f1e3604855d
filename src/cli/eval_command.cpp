#include <filesystem>
#include <iostream>

#include "commands.h"
#include "l2w/models/exit_cost.h"

namespace l2w::cli {

int eval_command(const Flags& flags) {
  const torch::Device device = setup_runtime(flags);
  if (flags.evaluate_from.empty()) throw FlagError("--evaluate_from: a checkpoint to evaluate is required");
  const auto geometry = dataset::geometry(flags.data);
  const auto options = network_options(flags, geometry);
  auto net = build_network(flags, options);
  const auto checkpoint = train::load_checkpoint(flags.evaluate_from);
  train::check_architecture(checkpoint, flags.evaluate_from, options);
  train::load_state_dict(*net, checkpoint.state_dict, flags.evaluate_from);
  net->to(device);

  const auto data = dataset::load_data(data_options(flags));
  dataset::BatchLoader loader(data.test, {},
                              dataset::LoaderOptions().batch_size(flags.batch_size).workers(flags.workers));
  const auto costs = models::exit_costs(*net, {geometry.channels, geometry.height, geometry.width});
  const auto metrics = eval::anytime_metrics(eval::collect_outputs(*net, loader, device));
  std::cout << "Anytime evaluation of " << flags.evaluate_from << " on " << data.test->size() << " test images:\n"
            << eval::anytime_table(metrics, costs);
  train::RunFolder folder(flags.train_url);
  eval::write_anytime_csv(folder.file("anytime.csv"), metrics, costs);
  return 0;
}

}  // namespace l2w::cli
