#include "serving.h"

namespace l2w::cli {

Serving prepare_serving(const Flags& flags) {
  if (flags.evaluate_from.empty()) throw FlagError("--evaluate_from: a checkpoint to serve is required");
  const torch::Device device = setup_runtime(flags);
  Serving s;
  s.data = dataset::load_data(data_options(flags));
  auto options = flags.serving;
  options.checkpoint(flags.evaluate_from)
      .arch(network_options(flags, data_geometry(flags, s.data)))
      .run_dir(flags.run.run_dir())
      .use_valid(flags.run.use_valid())
      .exit_criterion(flags.exit_criterion)
      .deployment(deployment_options(flags))
      .device(device)
      .amp(flags.run.amp())
      .workers(flags.run.workers())
      .skip_bad_images(flags.run.skip_bad_images());
  options.server().model(flags.evaluate_from);
  try {
    s.stack = std::make_unique<serve::ServingStack>(s.data, options);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
  return s;
}

void warm_up(Serving& s) {
  try {
    s.stack->warm_up();
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

int64_t pinned_budget(const Serving& s) {
  try {
    return s.stack->pinned_budget();
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

}  // namespace l2w::cli
