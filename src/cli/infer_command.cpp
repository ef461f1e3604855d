#include <cstdio>

#include "commands.h"
#include "l2w/eval/dynamic.h"
#include "l2w/infer/speed_table.h"
#include "l2w/io/thresholds_file.h"

namespace l2w::cli {
int infer_command(const Flags& flags) {
  const torch::Device device = setup_runtime(flags);
  const auto thresholds = io::read_thresholds(flags.thresholds);
  const auto data = dataset::load_data(data_options(flags));
  const auto geometry = data_geometry(flags, data);
  const auto options = deployment_options(flags).throughput_batch(flags.run.batch_size());
  auto m = infer::deploy(load_trained_network(flags, network_options(flags, geometry)),
                         {geometry.channels, geometry.height, geometry.width}, device, options);
  try {
    infer::check_thresholds_fit(thresholds, m, flags.thresholds);
  } catch (const options::OptionError& e) {
    throw flag_error(e);
  }
  const auto plan = infer::plan_deployment(m, options, device);
  infer::EarlyExitClassifier engine(m.net, thresholds.thresholds, m.form.input_format, thresholds.criterion,
                                    thresholds.temperatures);
  dataset::BatchLoader loader(
      data.test, {},
      dataset::LoaderOptions().batch_size(flags.run.batch_size()).workers(flags.run.workers()).skip_bad_images(flags.run.skip_bad_images()));
  const auto run = infer::timed_run(engine, loader, m, device, plan.throughput_threads, plan.batching);
  auto single = infer::first_images_one_at_a_time(data.test, flags.latency_images, flags.run.skip_bad_images());
  const auto latency = infer::timed_run(engine, single, m, device, plan.latency_threads, plan.batching);

  std::printf("Early-exit inference of %s with %s (p_idx %lld) on %lld test images, %s\n",
              flags.evaluate_from.c_str(), flags.thresholds.c_str(), static_cast<long long>(thresholds.p_index),
              static_cast<long long>(run.images), device.str().c_str());
  std::printf("  network              %s\n", plan.network.c_str());
  std::printf("  threads              %s\n", plan.threads.c_str());
  std::printf("  exit criterion       %s%s\n", criterion::exit_criterion_name(thresholds.criterion).c_str(),
              thresholds.temperatures.empty() ? "" : ", calibrated (a temperature per exit)");
  std::printf("  top-1 accuracy       %.2f %%\n", run.accuracy);
  std::printf("  exits taken          %s\n", eval::exit_histogram(run.exit_counts).c_str());
  std::printf("  mean MUL-ADDs        %.3f M per image (full network %.3f M)\n", run.mean_muladds / 1e6,
              double(m.costs.back().muladds) / 1e6);
  std::printf("  throughput           %.1f images/s (batch %lld, %s batching)\n", run.images_per_second(),
              static_cast<long long>(flags.run.batch_size()), infer::batching_name(plan.batching).c_str());
  std::printf("  latency, batch 1     p50 %.3f ms, p90 %.3f ms, p99 %.3f ms (%lld images)\n",
              1e3 * infer::percentile(latency.batch_seconds, 50), 1e3 * infer::percentile(latency.batch_seconds, 90),
              1e3 * infer::percentile(latency.batch_seconds, 99), static_cast<long long>(latency.images));
  return 0;
}

}  // namespace l2w::cli
