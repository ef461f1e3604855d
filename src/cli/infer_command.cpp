#include <cstdio>

#include "commands.h"
#include "run_flags.h"
#include "l2w/eval/dynamic.h"
#include "l2w/infer/speed_table.h"
#include "l2w/io/thresholds_file.h"

namespace l2w::cli {
namespace {

struct InferFlags {
  RunFlags common;
  std::string thresholds;  // the file it reads (from eval --budget)
  infer::DeploymentOptions deployment;
  int64_t latency_images = 500;
};

int run_infer(const InferFlags& flags) {
  const auto& common = flags.common;
  const torch::Device device = setup_runtime(common.model.runtime);
  const auto thresholds = io::read_thresholds(flags.thresholds);
  const auto data = dataset::load_data(common.model.data);
  const auto geometry = data_geometry(common.model, data);
  const auto options = deployment_options(flags.deployment, common).throughput_batch(common.run.batch_size());
  auto m = infer::deploy(load_trained_network(common, network_options(common.model, geometry)),
                         {geometry.channels, geometry.height, geometry.width}, device, options);
  try {
    infer::check_thresholds_fit(thresholds, m, flags.thresholds);
  } catch (const options::OptionError& e) {
    throw flag_error(e);
  }
  const auto plan = infer::plan_deployment(m, options, device);
  infer::EarlyExitClassifier engine(m, thresholds.thresholds, thresholds.criterion,
                                    thresholds.temperatures);
  dataset::BatchLoader loader(
      data.test, {},
      dataset::LoaderOptions().batch_size(common.run.batch_size()).workers(common.run.workers()).skip_bad_images(common.run.skip_bad_images()));
  const auto run = infer::timed_run(engine, loader, m, device, plan.throughput_threads, plan.batching);
  auto single = infer::first_images_one_at_a_time(data.test, flags.latency_images, common.run.skip_bad_images());
  const auto latency = infer::timed_run(engine, single, m, device, plan.latency_threads, plan.batching);

  std::printf("Early-exit inference of %s with %s (p_idx %lld) on %lld test images, %s\n",
              common.evaluate_from.c_str(), flags.thresholds.c_str(), static_cast<long long>(thresholds.p_index),
              static_cast<long long>(run.images), device.str().c_str());
  std::printf("  network              %s\n", plan.network.c_str());
  std::printf("  precision            %s\n", plan.precision.c_str());
  if (thresholds.precision != runtime::dtype_name(m.precision.dtype))
    std::printf("  note                 the thresholds were fitted on %s outputs: fit them in %s (eval --precision %s) "
                "for the budget to hold as deployed\n",
                thresholds.precision.c_str(), runtime::dtype_name(m.precision.dtype).c_str(),
                runtime::dtype_name(m.precision.dtype).c_str());
  std::printf("  threads              %s\n", plan.threads.c_str());
  std::printf("  exit criterion       %s%s\n", criterion::exit_criterion_name(thresholds.criterion).c_str(),
              thresholds.temperatures.empty() ? "" : ", calibrated (a temperature per exit)");
  std::printf("  top-1 accuracy       %.2f %%\n", run.accuracy);
  std::printf("  exits taken          %s\n", eval::exit_histogram(run.exit_counts).c_str());
  std::printf("  mean MUL-ADDs        %.3f M per image (full network %.3f M)\n", run.mean_muladds / 1e6,
              double(m.costs.back().muladds) / 1e6);
  std::printf("  throughput           %.1f images/s (batch %lld, %s batching)\n", run.images_per_second(),
              static_cast<long long>(common.run.batch_size()), infer::batching_name(plan.batching).c_str());
  std::printf("  latency, batch 1     p50 %.3f ms, p90 %.3f ms, p99 %.3f ms (%lld images)\n",
              1e3 * infer::percentile(latency.batch_seconds, 50), 1e3 * infer::percentile(latency.batch_seconds, 90),
              1e3 * infer::percentile(latency.batch_seconds, 99), static_cast<long long>(latency.images));
  return 0;
}

}  // namespace

Subcommand add_infer_command(CLI::App& parent) {
  auto flags = std::make_shared<InferFlags>();
  auto* app = parent.add_subcommand("infer", "early-exit inference with a thresholds file: accuracy, exits taken, latency");
  add_run_flags(*app, flags->common);
  add_checkpoint_flag(*app, flags->common);
  app->add_option("--thresholds", flags->thresholds, "thresholds file (from eval --budget)")->required();
  register_flag("thresholds", "--thresholds");
  add_deployment_flags(*app, flags->deployment);
  app->add_option("--latency-images", flags->latency_images, "images timed one at a time for latency")->check(kPositive);
  return {app, [flags, app] {
            apply_data_defaults(*app, flags->common);
            return run_infer(*flags);
          }};
}

}  // namespace l2w::cli
