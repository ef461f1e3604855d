#include <cstdio>
#include <iostream>

#include "commands.h"
#include "l2w/dataset/validation_split.h"
#include "l2w/eval/dynamic.h"
#include "l2w/io/numpy_file.h"
#include "l2w/models/exit_cost.h"

namespace l2w::cli {
namespace {

void save_probabilities(const train::RunFolder& folder, const std::string& set, const eval::ExitOutputs& outputs) {
  std::vector<torch::Tensor> probs;
  for (const auto& logits : outputs.logits) probs.push_back(torch::softmax(logits.to(torch::kFloat32), 1));
  io::write_npy(folder.file("probs_" + set + ".npy"), torch::stack(probs));
  io::write_npy(folder.file("labels_" + set + ".npy"), outputs.labels.to(torch::kInt64));
}

}  // namespace

models::MultiExitNetwork load_trained_network(const Flags& flags, const models::NetworkOptions& options) {
  if (flags.evaluate_from.empty()) throw FlagError("--evaluate_from: a checkpoint to evaluate is required");
  auto net = build_network(flags, options);
  const auto checkpoint = io::load_checkpoint(flags.evaluate_from);
  train::check_architecture(checkpoint, flags.evaluate_from, options);
  io::load_state_dict(*net, checkpoint.state_dict, flags.evaluate_from);
  return net;
}

int eval_command(const Flags& flags) {
  const torch::Device device = setup_runtime(flags);
  const bool dynamic = flags.evalmode != "anytime" || flags.budget > 0 || flags.save_probs;
  const auto data = dataset::load_data(data_options(flags));
  const auto geometry = data_geometry(flags, data);
  const auto options = network_options(flags, geometry);
  auto net = load_trained_network(flags, options);
  net->to(device);

  const auto loader_options = dataset::LoaderOptions()
                                  .batch_size(std::max<int64_t>(flags.batch_size, 256))
                                  .workers(flags.workers)
                                  .skip_bad_images(flags.skip_bad_images)
                                  .pin_memory(device.is_cuda());
  dataset::BatchLoader loader(data.test, {}, loader_options);
  const auto amp = runtime::parse_amp(flags.amp);
  const auto costs = models::exit_costs(*net, {geometry.channels, geometry.height, geometry.width});
  const auto test = eval::collect_outputs(*net, loader, device, amp);
  train::RunFolder folder(flags.train_url);
  const auto metrics = eval::anytime_metrics(test);
  if (flags.evalmode != "dynamic") {
    std::cout << "Anytime evaluation of " << flags.evaluate_from << " on " << data.test->size() << " test images:\n"
              << eval::anytime_table(metrics, costs);
    eval::write_anytime_csv(folder.file("anytime.csv"), metrics, costs);
  }
  std::vector<eval::DynamicPoint> points;
  if (dynamic) {
    const auto subset = flags.use_valid ? dataset::load_split(folder.file("valid_index.txt"), data.train->size()).valid
                                        : std::vector<int64_t>{};
    dataset::BatchLoader valid_loader(data.train, subset, loader_options);
    const auto valid_outputs = eval::collect_outputs(*net, valid_loader, device, amp);
    const auto valid = eval::exit_confidences(valid_outputs);
    const auto test_confidences = eval::exit_confidences(test);
    const std::string valid_name = flags.use_valid ? "held-out" : "training";
    if (flags.save_probs) {
      save_probabilities(folder, "valid", valid_outputs);
      save_probabilities(folder, "test", test);
      std::cout << "Probabilities [exits, images, classes] and labels: " << folder.file("{probs,labels}_{valid,test}.npy")
                << std::endl;
    }
    if (flags.evalmode != "anytime") {
      points = eval::dynamic_sweep(valid, test_confidences, costs);
      std::cout << "Budgeted batch classification (thresholds from " << valid_loader.num_samples() << " "
                << valid_name << " images):\n"
                << eval::dynamic_table(points);
      eval::write_dynamic(folder.file("dynamic.txt"), points);
    }
    if (flags.budget > 0) {
      const auto chosen = eval::thresholds_for_budget(valid, costs, flags.budget);
      const auto path = flags.thresholds.empty() ? folder.file("thresholds.txt") : flags.thresholds;
      io::write_thresholds(path, chosen);
      const auto on_test = eval::evaluate_with_thresholds(test_confidences, chosen.thresholds, costs);
      std::printf("Thresholds for a budget of %.3f M MUL-ADDs (p_idx %lld): %s\n  %s: %.2f%% at %.3f M; test: %.2f%% at %.3f M\n",
                  flags.budget / 1e6, static_cast<long long>(chosen.p_index), path.c_str(), valid_name.c_str(),
                  chosen.valid_accuracy, chosen.valid_expected_muladds / 1e6, on_test.accuracy,
                  on_test.expected_muladds / 1e6);
    }
  }
  plot_run(folder.dir(), report::make_run_curve(report::run_label(folder.dir()), metrics, costs, points));
  return 0;
}

}  // namespace l2w::cli
