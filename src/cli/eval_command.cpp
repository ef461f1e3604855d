#include <optional>

#include "command_support.h"
#include "commands.h"
#include "l2w/eval/checkpoint_evaluation.h"
#include "l2w/infer/deployment.h"
#include "l2w/models/exit_cost.h"
#include "run_flags.h"

namespace l2w::cli {
namespace {

struct EvalFlags {
  RunFlags common;
  eval::EvaluationOptions evaluation;
};

// The trained network as `l2w infer` and `serve` deploy it in `precision` (inference form, contiguous; on
// OpenVINO's stage graphs of `onnx`, if given), for eval to fit thresholds on the outputs that will be
// deployed; prints the precision chosen and why, and the engine.
infer::DeployedNetwork deploy_for_evaluation(const RunFlags& common, const dataset::DataGeometry& geometry,
                                             const torch::Device& device, runtime::Precision precision,
                                             const std::string& onnx) {
  const auto options = infer::DeploymentOptions()
                           .layout(infer::Layout::kContiguous)
                           .precision(precision)
                           .choose_latency_threads(false)
                           .uniform_conv_layout(true)  // eval runs batches, not single images
                           .throughput_batch(common.run.batch_size())
                           .engine(onnx.empty() ? infer::Engine::kLibTorch : infer::Engine::kOpenVino)
                           .onnx(onnx);
  auto deployed = infer::deploy(load_trained_network(common, network_options(common.model, geometry)),
                                {geometry.channels, geometry.height, geometry.width}, device, options);
  const auto plan = infer::plan_deployment(deployed, options, device);
  std::printf("Precision: %s\n", plan.precision.c_str());
  if (deployed.stages) std::printf("Engine: %s\n", plan.network.c_str());
  return deployed;
}

int run_eval(const EvalFlags& flags) {
  const auto& common = flags.common;
  const torch::Device device = setup_runtime(common.model.runtime);
  const auto data = dataset::load_data(common.model.data);
  const auto geometry = data_geometry(common.model, data);
  auto net = load_trained_network(common, network_options(common.model, geometry));
  net->to(device);
  const auto costs = models::exit_costs(*net, {geometry.channels, geometry.height, geometry.width});
  const io::RunFolder folder = io::RunFolder(common.run.run_dir()).create();
  auto options = flags.evaluation;
  options.exit_criterion(common.exit_criterion)
      .loader(dataset::LoaderOptions()
                  .batch_size(dataset::evaluation_batch_size(common.run.batch_size()))
                  .workers(common.run.workers())
                  .skip_bad_images(common.run.skip_bad_images())
                  .pin_memory(device.is_cuda()))
      .device(device)
      .amp(common.run.amp())
      .held_out(common.run.use_valid())
      .checkpoint(common.evaluate_from);
  eval::EvaluationReport report;
  try {
    const auto valid_subset = validation_subset(common, folder, data.train->size());
    std::optional<infer::DeployedNetwork> deployed;
    if (options.precision() != runtime::Precision::kFp32 || !options.onnx().empty())
      deployed = deploy_for_evaluation(common, geometry, device, options.precision(), options.onnx());
    if (deployed && (deployed->precision.dtype != torch::kFloat32 || deployed->stages))
      report = eval::evaluate_checkpoint(infer::exit_logits(*deployed), runtime::dtype_name(deployed->precision.dtype),
                                         data, valid_subset, costs, folder, options, net.get());
    else
      report = eval::evaluate_checkpoint(*net, data, valid_subset, costs, folder, options);
  } catch (const options::OptionError& e) {
    throw flag_error(e);
  }
  plot_run(folder.dir(), report::make_run_curve(report::run_label(folder.dir()), report.anytime, costs, report.dynamic));
  return 0;
}

}  // namespace

Subcommand add_eval_command(CLI::App& parent) {
  auto flags = std::make_shared<EvalFlags>();
  auto* app =
      parent.add_subcommand("eval", "evaluate a checkpoint (--evalmode anytime | dynamic | both; --budget writes thresholds)");
  add_run_flags(*app, flags->common);
  add_precision_flag(*app, flags->common);
  add_checkpoint_flag(*app, flags->common);
  add_options(*app, flags->evaluation, eval::EvaluationOptions::option_list(), "eval");
  app->get_option("--max-accuracy-drop")->excludes("--budget");
  app->get_option("--risk-confidence")->needs("--max-accuracy-drop");
  add_exit_criterion_flag(*app, flags->common);
  return {app, [flags, app] {
            apply_data_defaults(*app, flags->common);
            return run_eval(*flags);
          }};
}

}  // namespace l2w::cli
