#include "commands.h"
#include "l2w/eval/checkpoint_evaluation.h"
#include "l2w/models/exit_cost.h"

namespace l2w::cli {

int eval_command(const Flags& flags) {
  const torch::Device device = setup_runtime(flags);
  const auto data = dataset::load_data(data_options(flags));
  const auto geometry = data_geometry(flags, data);
  auto net = load_trained_network(flags, network_options(flags, geometry));
  net->to(device);
  const auto costs = models::exit_costs(*net, {geometry.channels, geometry.height, geometry.width});
  const io::RunFolder folder = io::RunFolder(flags.run.run_dir()).create();
  auto options = flags.evaluation;
  options.exit_criterion(flags.exit_criterion)
      .loader(dataset::LoaderOptions()
                  .batch_size(dataset::evaluation_batch_size(flags.run.batch_size()))
                  .workers(flags.run.workers())
                  .skip_bad_images(flags.run.skip_bad_images())
                  .pin_memory(device.is_cuda()))
      .device(device)
      .amp(flags.run.amp())
      .held_out(flags.run.use_valid())
      .checkpoint(flags.evaluate_from);
  eval::EvaluationReport report;
  try {
    report = eval::evaluate_checkpoint(*net, data, validation_subset(flags, folder, data.train->size()), costs, folder,
                                       options);
  } catch (const options::OptionError& e) {
    throw flag_error(e);
  }
  plot_run(folder.dir(), report::make_run_curve(report::run_label(folder.dir()), report.anytime, costs, report.dynamic));
  return 0;
}

}  // namespace l2w::cli
