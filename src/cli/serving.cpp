#include "serving.h"

namespace l2w::cli {

void add_server_flags(CLI::App& app, ServeFlags& f, bool listening) {
  add_run_flags(app, f.common);
  add_checkpoint_flag(app, f.common);
  add_options(app, f.serving, serve::ServingOptions::option_list(), "serving");
  add_deployment_flags(app, f.deployment);
  add_exit_criterion_flag(app, f.common);
  if (listening) add_options(app, f.serving, serve::ServingOptions::option_list(), "listening");
}

Serving prepare_serving(const ServeFlags& flags) {
  const auto& common = flags.common;
  if (common.evaluate_from.empty()) throw FlagError("--evaluate_from: a checkpoint to serve is required");
  const torch::Device device = setup_runtime(common.model.runtime);
  Serving s;
  s.data = dataset::load_data(common.model.data);
  auto options = flags.serving;
  options.checkpoint(common.evaluate_from)
      .arch(network_options(common.model, data_geometry(common.model, s.data)))
      .run_dir(common.run.run_dir())
      .use_valid(common.run.use_valid())
      .exit_criterion(common.exit_criterion)
      .deployment(deployment_options(flags.deployment, common))
      .device(device)
      .workers(common.run.workers())
      .skip_bad_images(common.run.skip_bad_images());
  options.server().model(common.evaluate_from);
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
