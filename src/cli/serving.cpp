#include "serving.h"

#include <cstdio>

#include "l2w/dataset/validation_split.h"
#include "l2w/eval/dynamic.h"

namespace l2w::cli {
namespace {

// FlagError unless the menu was made for this network: its exits' costs and criterion.
void check_menu_fits(const serve::BudgetMenu& menu, const infer::DeployedNetwork& m, const Flags& flags) {
  std::vector<int64_t> costs;
  for (const auto& c : m.costs) costs.push_back(c.muladds);
  if (menu.exit_muladds != costs || menu.full_muladds != m.last_exit_only_muladds)
    throw FlagError("--budgets " + flags.budgets + ": made for another network (its exits cost other MUL-ADDs)");
  if (menu.criterion != flags.exit_criterion)
    throw FlagError("--budgets " + flags.budgets + ": fitted for the exit criterion " +
                    criterion::exit_criterion_name(menu.criterion) + ", not --exit-criterion " +
                    criterion::exit_criterion_name(flags.exit_criterion));
}

serve::BudgetMenu fit_menu(const Flags& flags, const Serving& s, const models::NetworkOptions& options,
                           const torch::Device& device) {
  const io::RunFolder folder = io::RunFolder(flags.run.run_dir()).create();
  auto net = load_trained_network(flags, options);
  net->to(device);
  const auto loader_options = dataset::LoaderOptions()
                                  .batch_size(std::max<int64_t>(flags.run.batch_size(), 256))
                                  .workers(flags.run.workers())
                                  .skip_bad_images(flags.run.skip_bad_images());
  dataset::BatchLoader loader(s.data.train, validation_subset(flags, folder, s.data.train->size()), loader_options);
  const auto valid = eval::exit_confidences(eval::collect_outputs(*net, loader, device, flags.run.amp()),
                                            flags.exit_criterion);
  auto menu = serve::fit_budget_menu(valid, s.network.costs, s.network.last_exit_only_muladds);
  serve::write_budget_menu(folder.budgets(), menu);
  std::printf("Budget menu: %zu budgets fitted on %lld validation images, written to %s\n", menu.budgets.size(),
              static_cast<long long>(valid.confidence.size(1)), folder.budgets().c_str());
  return menu;
}

}  // namespace

Serving prepare_serving(const Flags& flags) {
  const torch::Device device = setup_runtime(flags);
  Serving s;
  s.data = dataset::load_data(data_options(flags));
  const auto geometry = data_geometry(flags, s.data);
  const auto options = network_options(flags, geometry);
  const auto deployment = deployment_options(flags);
  s.network = infer::deploy(load_trained_network(flags, options), {geometry.channels, geometry.height, geometry.width},
                            device, deployment);
  serve::BudgetMenu menu;
  if (!flags.budgets.empty()) {
    menu = serve::read_budget_menu(flags.budgets);
    check_menu_fits(menu, s.network, flags);
  } else {
    menu = fit_menu(flags, s, options, device);
  }
  const auto plan = infer::plan_deployment(s.network, deployment, device);
  s.network_report = plan.network, s.threads_report = plan.threads;
  s.engine = std::make_unique<serve::BudgetedEngine>(s.network, std::move(menu), plan.throughput_threads,
                                                     plan.latency_threads);
  s.format = serve::input_format(*s.data.test);
  s.times.resize(s.engine->menu().budgets.size());
  return s;
}

void warm_up_serving(const Flags& flags, Serving& s, bool measure) {
  dataset::BatchLoader loader(s.data.test, {}, dataset::LoaderOptions().batch_size(flags.max_batch));
  loader.start_epoch(0);
  const auto sample = loader.next();
  if (!sample) throw FlagError("no test images to measure the budgets on");
  s.engine->warm_up(sample->images, flags.max_batch);
  if (measure) s.times = serve::measure_service_times(*s.engine, sample->images, flags.max_batch);
}

int64_t pinned_budget(const Flags& flags, const Serving& s) {
  if (flags.budget <= 0) return -1;
  try {
    return static_cast<int64_t>(s.engine->menu().at_most(flags.budget));
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

serve::BudgetController budget_controller(const Flags& flags, const Serving& s, int64_t pinned) {
  return serve::BudgetController(s.times, serve::ControllerOptions()
                                              .slo_s(flags.slo_ms / 1e3)
                                              .max_batch(flags.max_batch)
                                              .max_wait_s(flags.max_wait_ms / 1e3)
                                              .pinned(pinned));
}

serve::ServerOptions server_options(const Flags& flags, int port) {
  return serve::ServerOptions()
      .bind(flags.bind)
      .port(port)
      .max_body_bytes(flags.max_body_bytes)
      .model(flags.evaluate_from)
      .access_log(flags.access_log);
}

double full_capacity(const Flags& flags, const Serving& s) {
  return static_cast<double>(flags.max_batch) / s.times.back().of(flags.max_batch);
}

}  // namespace l2w::cli
