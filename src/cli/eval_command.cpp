#include <filesystem>
#include <iostream>

#include "commands.h"
#include "l2w/dataset/validation_split.h"
#include "l2w/eval/dynamic.h"
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
  const auto test = eval::collect_outputs(*net, loader, device);
  train::RunFolder folder(flags.train_url);
  if (flags.evalmode == "anytime" || flags.evalmode == "both") {
    const auto metrics = eval::anytime_metrics(test);
    std::cout << "Anytime evaluation of " << flags.evaluate_from << " on " << data.test->size() << " test images:\n"
              << eval::anytime_table(metrics, costs);
    eval::write_anytime_csv(folder.file("anytime.csv"), metrics, costs);
  }
  if (flags.evalmode == "dynamic" || flags.evalmode == "both") {
    const auto subset = flags.use_valid ? dataset::load_split(folder.file("valid_index.txt"), data.train->size()).valid
                                        : std::vector<int64_t>{};
    dataset::BatchLoader valid_loader(data.train, subset,
                                      dataset::LoaderOptions().batch_size(flags.batch_size).workers(flags.workers));
    const auto valid = eval::exit_confidences(eval::collect_outputs(*net, valid_loader, device));
    const auto points = eval::dynamic_sweep(valid, eval::exit_confidences(test), costs);
    std::cout << "Budgeted batch classification (thresholds from " << valid_loader.num_samples()
              << (flags.use_valid ? " held-out" : " training") << " images):\n"
              << eval::dynamic_table(points);
    eval::write_dynamic(folder.file("dynamic.txt"), points);
  }
  return 0;
}

}  // namespace l2w::cli
