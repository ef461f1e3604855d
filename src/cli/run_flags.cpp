#include "run_flags.h"

#include "l2w/dataset/validation_split.h"
#include "l2w/train/trained_network.h"

namespace l2w::cli {
namespace {

const Choices<criterion::ExitCriterion> kExitCriteria = [] {
  Choices<criterion::ExitCriterion> choices;
  for (const auto c : criterion::all_exit_criteria()) choices.emplace_back(criterion::exit_criterion_name(c), c);
  return choices;
}();

}  // namespace

void add_run_flags(CLI::App& app, RunFlags& f) {
  add_model_flags(app, f.model);
  for (const char* group : {"runtime", "data", "run"}) add_options(app, f.run, train::TrainerOptions::option_list(), group);
}

void add_precision_flag(CLI::App& app, RunFlags& f) {
  add_options(app, f.run, train::TrainerOptions::option_list(), "precision");
}

void add_checkpoint_flag(CLI::App& app, RunFlags& f) {
  app.add_option("--evaluate_from", f.evaluate_from, "checkpoint to evaluate");
  register_flag("evaluate_from", "--evaluate_from");
}

void add_exit_criterion_flag(CLI::App& app, RunFlags& f) {
  add_choice(app, "--exit-criterion", f.exit_criterion, kExitCriteria,
             "each exit's score compared with its threshold (docs/exit_policies.md)")
      ->default_str(word_for(kExitCriteria, f.exit_criterion));
  register_flag("exit_criterion", "--exit-criterion");
}

void add_deployment_flags(CLI::App& app, infer::DeploymentOptions& deployment) {
  add_options(app, deployment, infer::DeploymentOptions::option_list(), "deployment");
}

void apply_data_defaults(const CLI::App& app, RunFlags& f) {
  const auto* given = app.get_option_no_throw("--num_sample_valid");
  if (given != nullptr && given->count() == 0 && f.model.data.name == "ImageNet") f.run.num_sample_valid(50000);
}

models::MultiExitNetwork load_trained_network(const RunFlags& flags, const models::NetworkOptions& options) {
  if (flags.evaluate_from.empty()) throw FlagError("--evaluate_from: a checkpoint to evaluate is required");
  try {
    return train::load_trained_network(flags.evaluate_from, options);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

std::vector<int64_t> validation_subset(const RunFlags& flags, const io::RunFolder& folder, int64_t train_size) {
  dataset::SplitOptions options;
  options.use_valid = flags.run.use_valid();
  return dataset::run_split(folder.valid_index(), train_size, options).valid;
}

infer::DeploymentOptions deployment_options(const infer::DeploymentOptions& deployment, const RunFlags& f) {
  auto o = deployment;
  return o.choose_latency_threads(f.model.runtime.threads() <= 0);
}

}  // namespace l2w::cli
