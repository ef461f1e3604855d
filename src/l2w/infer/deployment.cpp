#include "l2w/infer/deployment.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>

#include "l2w/infer/conv_layouts.h"
#include "l2w/infer/early_exit_classifier.h"
#include "l2w/infer/openvino_stages.h"
#include "l2w/io/thresholds_file.h"
#include "l2w/infer/thread_policy.h"
#include "l2w/models/exit_cost.h"
#include "l2w/runtime/device.h"

namespace l2w::infer {

const options::OptionList<DeploymentOptions>& DeploymentOptions::option_list() {
  using namespace options;
  using D = DeploymentOptions;
  static const OptionList<D> list{
      choice<D>("memory_format", {"--memory-format"}, L2W_FIELD(layout),
                named({Layout::kAuto, Layout::kChannelsLast, Layout::kContiguous}, layout_name),
                "layout of the inference form's weights and activations (auto: the faster measured)")
          .in("deployment"),
      switch_option<D>("training_form", {"--training-form"}, L2W_FIELD(training_form),
                       "run the network as trained (BatchNorm not folded, contiguous): for comparison")
          .in("deployment"),
      runtime::precision_option<D>(L2W_FIELD(precision), "(default auto)").in("deployment"),
      switch_option<D>("uniform_conv_layout", {"--uniform-conv-layout"}, L2W_FIELD(uniform_conv_layout),
                       "every convolution in the network's layout at batch 1 too, instead of each in the one measured "
                       "faster for it: for comparison")
          .in("deployment"),
      choice<D>("batching", {"--batching"}, L2W_FIELD(batching),
                named({Batching::kStageWise, Batching::kPerBatch}, batching_name),
                "stage-wise: every block at the batch size, images waiting between blocks; per-batch: each batch "
                "compacted at every exit (for comparison)")
          .in("deployment"),
      choice<D>("engine", {"--engine"}, L2W_FIELD(engine),
                named({Engine::kAuto, Engine::kLibTorch, Engine::kOpenVino}, engine_name),
                "what computes the network: libtorch, openvino (on the stage graphs of --onnx, on the CPU; the exit "
                "decisions stay l2w's), or auto: with --onnx, the faster measured for single images and for batches")
          .in("deployment"),
      value<D>("onnx", {"--onnx"}, L2W_FIELD(onnx),
               "the folder l2w export wrote from the same checkpoint, for OpenVINO")
          .in("deployment"),
  };
  return list;
}

std::string engine_name(Engine engine) {
  return engine == Engine::kAuto ? "auto" : engine == Engine::kLibTorch ? "libtorch" : "openvino";
}

size_t faster_layout(const std::vector<double>& best_ms) {
  size_t chosen = 0;
  for (size_t i = 1; i < best_ms.size(); ++i)
    if (best_ms[i] < 0.97 * best_ms[chosen]) chosen = i;
  return chosen;
}

namespace {

std::string format_name(torch::MemoryFormat format) {
  return format == torch::MemoryFormat::ChannelsLast ? "channels_last" : "contiguous";
}

std::string figures(const std::vector<std::string>& names, const std::vector<double>& ms) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    char figure[96];
    std::snprintf(figure, sizeof figure, "%s%s %.3f ms", i ? ", " : "", names[i].c_str(), ms[i]);
    text += figure;
  }
  return text;
}

// One way of running the deployed network that plan_deployment compares: `apply` puts the network in it.
struct Variant {
  std::function<void()> apply;
};

// The whole network's time for one batch of `batch_size` in each variant, the best of three passes taken in
// turn with the other variants' (so that the machine's drift falls on all of them), after a warm-up pass.
// A pass at batch 1 runs each variant four times and keeps the last three: the first call after another
// engine's can wait for that engine's threads to give up the cores (OpenVINO's spin after their work).
std::vector<double> whole_network_batch_ms(DeployedNetwork& m, const std::vector<Variant>& variants,
                                           int64_t batch_size, const torch::Device& device) {
  auto shape = m.image_shape;
  shape[0] = batch_size;
  const auto batch = torch::randn(shape).to(device);
  std::vector<double> best(variants.size(), std::numeric_limits<double>::infinity());
  runtime::DeviceTimer timer(device);
  const int calls = batch_size == 1 ? 4 : 1;
  for (int pass = 0; pass < 4; ++pass) {
    for (size_t i = 0; i < variants.size(); ++i) {
      variants[i].apply();
      EarlyExitClassifier engine(m, never_exit(m.net->num_exits()));
      engine.set_compute_every_exit(true);
      for (int call = 0; call < calls; ++call) {
        timer.start();
        engine.classify(batch);
        const double ms = 1e3 * timer.seconds();
        if (pass > 0 && (call > 0 || calls == 1)) best[i] = std::min(best[i], ms);
      }
    }
  }
  return best;
}

// Times the whole network in float32 and in bfloat16 (in its chosen layout), at `batch_size` and at batch
// 1, and leaves it in the faster at `batch_size`; returns the report.
std::string choose_measured_precision(DeployedNetwork& m, int64_t batch_size, const torch::Device& device) {
  const auto fp32 = runtime::SavedWeights::of(*m.net);
  const std::vector<Variant> variants{
      {[&] { fp32.restore(*m.net); }}, {[&] { set_precision(*m.net, torch::kBFloat16); }}};
  const std::vector<std::string> names{"fp32", "bf16"};
  const auto batch_ms = whole_network_batch_ms(m, variants, batch_size, device);
  const auto single_ms = batch_size > 1 ? whole_network_batch_ms(m, variants, 1, device) : batch_ms;
  const size_t chosen = faster_layout(batch_ms);
  variants[chosen].apply();
  m.precision.dtype = chosen == 0 ? torch::kFloat32 : torch::kBFloat16;
  std::string report = "whole network at batch " + std::to_string(batch_size) + ": " + figures(names, batch_ms);
  if (batch_size > 1) report += "; at batch 1: " + figures(names, single_ms);
  return report;
}

int64_t last_exit_only_muladds(models::MultiExitNetwork& net, const std::vector<int64_t>& image_shape,
                               const torch::Device& device) {
  nn::CostMeter meter;
  EarlyExitClassifier(net, std::vector<float>(size_t(net->num_exits()), 0.0f))
      .classify_full(torch::zeros(image_shape, torch::TensorOptions().device(device)));
  return meter.total().muladds;
}

// The largest difference between the stage graphs' logits and the network's, over every exit and the
// joined graph's last, as a share of the network's largest logit, on two random images.
double stages_logit_difference(DeployedNetwork& m) {
  c10::InferenceMode inference;
  auto shape = m.image_shape;
  shape[0] = 2;
  const auto images = torch::randn(shape, torch::Generator(at::detail::createCPUGenerator(0)));
  const auto dtype = m.net->parameters().front().scalar_type();
  const auto expected = m.net->forward(images.to(dtype).contiguous(m.form.input_format));
  double difference = 0;
  const auto compare = [&](const torch::Tensor& logits, const torch::Tensor& network_logits) {
    const auto want = network_logits.to(torch::kFloat32);
    const double scale = std::max(want.abs().max().item<double>(), 1e-6);
    difference = std::max(difference, (logits - want).abs().max().item<double>() / scale);
  };
  models::Features features{images};
  for (size_t k = 0; k < expected.size(); ++k) compare(m.stages->run_stage(int64_t(k), features), expected[k]);
  compare(m.stages->run_whole(images), expected.back());
  return difference;
}

// Compiles the stage graphs of options.onnx for OpenVINO in the precision chosen (auto, on a CPU whose bf16
// is vector instructions only: f32, which OpenVINO runs faster there, docs/inference.md) and checks that
// they compute this checkpoint: a folder exported from another checkpoint of the same architecture has the
// same costs but other logits.
void attach_openvino(DeployedNetwork& m, const DeploymentOptions& options, const torch::Device& device) {
  if (!device.is_cpu()) throw options::OptionError("engine", "openvino runs on the CPU, not on " + device.str());
  if (m.precision.measure) {  // --engine openvino: LibTorch's precision is not measured
    m.precision.measure = false;
    m.precision.why = "auto: the CPU has " + runtime::bf16_support(device).name +
                      ": f32, which OpenVINO runs faster than its bf16 on such a CPU (docs/inference.md)";
  }
  std::vector<int64_t> muladds;
  for (const auto& c : m.costs) muladds.push_back(c.muladds);
  m.stages = openvino_stages(OpenVinoStageOptions()
                                 .folder(options.onnx())
                                 .bf16(m.precision.dtype == torch::kBFloat16)
                                 .threads(at::get_num_threads()),
                             muladds, {m.image_shape.begin() + 1, m.image_shape.end()});
  const double difference = stages_logit_difference(m);
  const bool bf16 = m.precision.dtype == torch::kBFloat16 || m.net->parameters().front().scalar_type() == torch::kBFloat16;
  const double tolerance = bf16 ? 0.1 : 1e-3;
  char report[160];
  std::snprintf(report, sizeof report, "their logits the checkpoint's within %.1e of the largest", difference);
  if (!(difference <= tolerance))
    throw options::OptionError("onnx", options.onnx() + ": not exported from this checkpoint (" + report + ", expected " +
                                           "within " + options::number_text(tolerance) + ")");
  m.stages_check = report;
}

// For single images and for batches of `batch_size`, the engine that runs the whole network faster:
// LibTorch (on `latency_threads` for one image) or the stage graphs. Returns the report.
std::string choose_engines(DeployedNetwork& m, int64_t batch_size, int latency_threads, const torch::Device& device) {
  const std::vector<Variant> variants{{[&] { m.stages_for_single = m.stages_for_batches = false; }},
                                      {[&] { m.stages_for_single = m.stages_for_batches = true; }}};
  const std::vector<std::string> names{"LibTorch", "OpenVINO"};
  std::vector<double> single_ms;
  {
    IntraOpThreads latency(latency_threads);
    single_ms = whole_network_batch_ms(m, variants, 1, device);
  }
  const auto batch_ms = batch_size > 1 ? whole_network_batch_ms(m, variants, batch_size, device) : single_ms;
  m.stages_for_single = faster_layout(single_ms) == 1;
  m.stages_for_batches = faster_layout(batch_ms) == 1;
  std::string report = std::string(m.stages_for_single ? "OpenVINO" : "LibTorch") + " for single images";
  if (batch_size > 1) report += std::string(", ") + (m.stages_for_batches ? "OpenVINO" : "LibTorch") + " for batches";
  report += ", the faster measured (whole network at batch 1: " + figures(names, single_ms);
  if (batch_size > 1) report += "; at batch " + std::to_string(batch_size) + ": " + figures(names, batch_ms);
  return report + ")";
}

}  // namespace

std::string layout_name(Layout layout) {
  return layout == Layout::kAuto ? "auto" : layout == Layout::kContiguous ? "contiguous" : "channels_last";
}

std::vector<float> never_exit(int64_t exits) {
  return std::vector<float>(size_t(exits), std::numeric_limits<float>::infinity());
}

DeployedNetwork deploy(models::MultiExitNetwork net, const std::vector<int64_t>& image_chw, const torch::Device& device,
                       const DeploymentOptions& options) {
  DeployedNetwork m;
  m.net = std::move(net);
  m.image_shape = {1};
  m.image_shape.insert(m.image_shape.end(), image_chw.begin(), image_chw.end());
  m.net->to(device);
  m.net->eval();
  m.costs = models::exit_costs(*m.net, image_chw);
  m.last_exit_only_muladds = last_exit_only_muladds(m.net, m.image_shape, device);
  if (!options.training_form())
    m.form = to_inference_form(*m.net,
                               InferenceFormOptions().channels_last(options.layout() == Layout::kChannelsLast));
  m.precision = runtime::choose_precision(options.precision(), device);
  if (options.engine() != Engine::kOpenVino) set_precision(*m.net, m.precision.dtype);
  return m;
}

Deployment plan_deployment(DeployedNetwork& m, const DeploymentOptions& options, const torch::Device& device) {
  Deployment plan;
  plan.throughput_threads = at::get_num_threads();
  plan.batching = options.batching();
  if (options.engine() == Engine::kOpenVino) {  // compiled for its own thread pool: nothing to choose here
    attach_openvino(m, options, device);
    plan.latency_threads = plan.throughput_threads;
    plan.network = m.stages->description() + "; " + m.stages_check;
    plan.precision = runtime::dtype_name(m.precision.dtype) + " (" + m.precision.why + ")";
    plan.threads = std::to_string(plan.throughput_threads) + " for throughput and for latency (OpenVINO's pool)";
    return plan;
  }
  const bool choose_threads = options.choose_latency_threads() && device.is_cpu();
  const auto counts = choose_threads ? thread_counts_to_try(plan.throughput_threads)
                                     : std::vector<int>{plan.throughput_threads};
  std::vector<torch::MemoryFormat> formats{m.form.input_format};
  if (!options.training_form() && options.layout() == Layout::kAuto)
    formats = {torch::MemoryFormat::Contiguous, torch::MemoryFormat::ChannelsLast};
  const auto image = torch::randn(m.image_shape).to(device);
  std::vector<LatencyThreads> choices;
  std::vector<std::string> names;
  std::vector<double> best_ms;
  for (const auto format : formats) {
    if (!options.training_form()) set_memory_format(*m.net, format);
    EarlyExitClassifier full(m.net, never_exit(m.net->num_exits()), format);
    full.set_compute_every_exit(true);
    choices.push_back(fastest_latency_threads(full, image, counts));
    names.push_back(format_name(format));
    best_ms.push_back(*std::min_element(choices.back().median_ms.begin(), choices.back().median_ms.end()));
  }
  const bool by_throughput = formats.size() > 1 && options.throughput_batch() > 1;
  std::vector<Variant> layouts;
  for (const auto format : formats)
    layouts.push_back({[&m, format] { set_memory_format(*m.net, format), m.form.input_format = format; }});
  const auto batch_ms = by_throughput ? whole_network_batch_ms(m, layouts, options.throughput_batch(), device)
                                      : std::vector<double>{};
  const size_t chosen = faster_layout(by_throughput ? batch_ms : best_ms);
  m.form.input_format = formats[chosen];
  if (!options.training_form()) set_memory_format(*m.net, formats[chosen]);
  plan.latency_threads = choices[chosen].threads;

  if (options.training_form()) {
    plan.network = "as trained (BatchNorm not folded, contiguous)";
  } else {
    plan.network = "inference form: " + std::to_string(m.form.folded_batch_norms) +
                   " BatchNorms folded into their convolutions, " + std::to_string(m.form.pointwise_convs) +
                   " 1x1 convolutions as matrix products, " + names[chosen];
    if (formats.size() == 1)
      plan.network += " (as asked)";
    else if (by_throughput)
      plan.network += ", the faster layout measured (whole network at batch " +
                      std::to_string(options.throughput_batch()) + ": " + figures(names, batch_ms) +
                      "; at batch 1: " + figures(names, best_ms) + ")";
    else
      plan.network += ", the faster layout measured (whole network at batch 1: " + figures(names, best_ms) + ")";
  }
  plan.precision = runtime::dtype_name(m.precision.dtype) + " (" + m.precision.why;
  if (m.precision.measure)
    plan.precision += ": " + choose_measured_precision(m, std::max<int64_t>(1, options.throughput_batch()), device);
  plan.precision += ")";
  if (device.is_cpu() && !options.training_form() && !options.uniform_conv_layout() &&
      m.form.input_format == torch::MemoryFormat::Contiguous) {
    IntraOpThreads latency(plan.latency_threads);
    plan.network += "; " + choose_conv_layouts(m).report();
  }
  if (options.engine() == Engine::kAuto && !options.onnx().empty() && device.is_cpu()) {
    attach_openvino(m, options, device);
    plan.network += "; " + m.stages->description() + ", " + m.stages_check + "; " +
                    choose_engines(m, std::max<int64_t>(1, options.throughput_batch()), plan.latency_threads, device);
  }
  if (!choose_threads) {
    plan.threads = std::to_string(plan.throughput_threads) + " for throughput and for latency";
  } else {
    std::vector<std::string> counts_tried;
    for (int n : choices[chosen].tried) counts_tried.push_back(std::to_string(n) + (n == 1 ? " thread" : " threads"));
    plan.threads = std::to_string(plan.throughput_threads) + " for throughput (the cores), " +
                   std::to_string(plan.latency_threads) + " for batch-1 latency, the fastest measured (" +
                   figures(counts_tried, choices[chosen].median_ms) + ")";
  }
  return plan;
}

eval::ExitLogits exit_logits(DeployedNetwork& m) {
  if (!m.stages || !(m.stages_for_single || m.stages_for_batches)) return eval::network_logits(*m.net);
  return [&m](const torch::Tensor& images) {
    models::Features features{images.to(torch::kFloat32)};
    std::vector<torch::Tensor> logits;
    for (int64_t k = 0; k < m.net->num_exits(); ++k) logits.push_back(m.stages->run_stage(k, features));
    return logits;
  };
}

void check_thresholds_fit(const io::ExitThresholds& t, const DeployedNetwork& m, const std::string& source) {
  const std::string from = source.empty() ? "" : source + ": ";
  if (static_cast<int64_t>(t.thresholds.size()) != m.net->num_exits())
    throw options::OptionError("thresholds", from + std::to_string(t.thresholds.size()) + " given, the network has " +
                                                 std::to_string(m.net->num_exits()) + " exits");
  if (t.exit_muladds.empty()) return;
  for (size_t k = 0; k < m.costs.size(); ++k) {
    if (t.exit_muladds.at(k) != m.costs[k].muladds)
      throw options::OptionError("thresholds", from + "chosen for another network (exit " + std::to_string(k + 1) +
                                                   " costs " + std::to_string(t.exit_muladds[k]) + " MUL-ADDs there, " +
                                                   std::to_string(m.costs[k].muladds) + " here)");
  }
}

}  // namespace l2w::infer
