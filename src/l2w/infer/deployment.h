// A trained network made ready to serve (docs/inference.md): its inference form, the input layout and the
// intra-op thread counts, the ones measured fastest unless pinned. `l2w infer` and `l2w bench infer`
// deploy through this; nothing here reads flags.
#pragma once

#include <string>
#include <vector>

#include "l2w/eval/anytime.h"
#include "l2w/infer/inference_form.h"
#include "l2w/infer/stage_engine.h"
#include "l2w/infer/stagewise_classifier.h"
#include "l2w/models/multi_exit_network.h"
#include "l2w/nn/cost_meter.h"

#include "l2w/runtime/option_list.h"
#include "l2w/runtime/precision.h"

namespace l2w::infer {

// What computes the network's stages: LibTorch (the network's own modules), OpenVINO's runtime on the
// stage graphs `l2w export` wrote from the same checkpoint (infer/openvino_stages.h), or, for kAuto, for
// single images and for batches each, the faster of the two measured (LibTorch alone without an export).
enum class Engine { kAuto, kLibTorch, kOpenVino };
std::string engine_name(Engine engine);  // "auto", "libtorch", "openvino"

// The memory layout of the deployed network's weights and inputs.
enum class Layout { kAuto, kContiguous, kChannelsLast };  // kAuto: the faster measured
std::string layout_name(Layout layout);  // "auto", "contiguous", "channels_last"

struct DeploymentOptions {
  TORCH_ARG(Layout, layout) = Layout::kAuto;
  TORCH_ARG(runtime::Precision, precision) = runtime::Precision::kAuto;
  // Run the network as trained (BatchNorm unfolded, contiguous) instead of its inference form.
  TORCH_ARG(bool, training_form) = false;
  // Time 1, 2, 4, ... threads for batch-1 latency on a CPU and keep the fastest; otherwise latency
  // uses the current count too (a count the user pinned).
  TORCH_ARG(bool, choose_latency_threads) = true;
  // How a stream of batches (a data set) is batched: stage-wise, every block at the batch size, or per
  // batch, compacted at each exit (for comparison).
  TORCH_ARG(Batching, batching) = Batching::kStageWise;
  // The batch size throughput will run at. Above 1, kAuto chooses the layout by the whole network's time
  // at this batch (the layout moves large-batch throughput far more than batch-1 latency; docs/inference.md).
  TORCH_ARG(int64_t, throughput_batch) = 1;
  // Unless set, on a CPU in NCHW each convolution runs, for one image at a time, in the layout measured
  // faster for it (infer/conv_layouts.h).
  TORCH_ARG(bool, uniform_conv_layout) = false;
  TORCH_ARG(Engine, engine) = Engine::kAuto;
  TORCH_ARG(std::string, onnx);  // the export folder OpenVINO runs

 public:
  // layout, precision, uniform_conv_layout, training_form, batching, engine and onnx (the rest are set by
  // the program).
  static const options::OptionList<DeploymentOptions>& option_list();
};

// Declared below; the thresholds of an exit policy (l2w/io/thresholds_file.h).
struct DeployedNetwork;
}  // namespace l2w::infer
namespace l2w::io {
struct ExitThresholds;
}  // namespace l2w::io
namespace l2w::infer {

// The network as it runs, and what it costs per exit.
struct DeployedNetwork {
  models::MultiExitNetwork net;
  std::vector<nn::Cost> costs;         // per exit, earlier exits' heads included (docs/algorithm.md)
  int64_t last_exit_only_muladds = 0;  // every block and the last exit's head only
  InferenceForm form;
  std::vector<int64_t> image_shape;  // a batch of one: {1, C, H, W}
  runtime::PrecisionChoice precision;  // its dtype is the weights' (float32 until a measurement decides)
  // Another engine computing the stages (null: LibTorch computes them all), for a batch of one image, for
  // larger batches, or for both; and, for reports, how closely its logits reproduce the network's.
  std::shared_ptr<StageEngine> stages;
  bool stages_for_single = true, stages_for_batches = true;
  std::string stages_check;
};

// Counts the exits' costs on the trained network, moves it to `device` in eval mode and converts it to
// the inference form (unless options.training_form), in the layout asked for (contiguous for kAuto until
// plan_deployment measures) and the precision (float32 where plan_deployment is to measure; with
// Engine::kOpenVino, the network stays float32 and the precision is OpenVINO's).
DeployedNetwork deploy(models::MultiExitNetwork net, const std::vector<int64_t>& image_chw, const torch::Device& device,
                       const DeploymentOptions& options);

// The intra-op threads for throughput (the current count) and for batch-1 latency, and, for the report,
// what was chosen and why.
struct Deployment {
  int throughput_threads = 1, latency_threads = 1;
  Batching batching = Batching::kStageWise;  // for throughput over a data set
  std::string network, threads, precision;
};

// Chooses the layout (kAuto: both timed on the whole network, at options.throughput_batch and at batch 1;
// the first decides when it is above 1), the latency thread count and, where deploy() left it to be
// measured, the precision (timed the same way, in the chosen layout); leaves `m` in the chosen layout and
// precision. With an export folder (options.onnx) and Engine::kOpenVino or kAuto, compiles its stage
// graphs for OpenVINO on the CPU and checks them against the network (options::OptionError naming "onnx"
// for a folder of another network or checkpoint); kAuto then times both engines on the whole network at
// batch 1 and at options.throughput_batch and keeps, for each, the faster.
Deployment plan_deployment(DeployedNetwork& m, const DeploymentOptions& options, const torch::Device& device);

// Of layouts whose times are `best_ms`, the index to use: a later one only when it is more than 3% faster,
// so that a tie keeps the first (contiguous, the layout LibTorch starts from).
size_t faster_layout(const std::vector<double>& best_ms);

// Every exit's logits for a batch, as the deployed network computes them (eval/anytime.h): by OpenVINO's
// stages where it runs any (their outputs are what it answers with), else by LibTorch in the deployed
// precision. eval fits thresholds, and serve its budget menu, on these.
eval::ExitLogits exit_logits(DeployedNetwork& m);

// Thresholds no image reaches. An engine computes no exit before the last under them unless told to
// (EarlyExitClassifier::set_compute_every_exit: the path of an image that reaches the last exit).
std::vector<float> never_exit(int64_t exits);

// OptionError naming `thresholds` unless they were chosen for this network: one per exit and, where
// they record them (a thresholds file), the same cost at each exit. `source` (a file's path, or empty)
// leads the message.
void check_thresholds_fit(const io::ExitThresholds& thresholds, const DeployedNetwork& network,
                          const std::string& source);

}  // namespace l2w::infer
