// Anytime evaluation (docs/algorithm.md, "Dynamic evaluation"): every exit's loss, top-1 and top-5 on a data set.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "l2w/dataset/batch_loader.h"
#include "l2w/models/multi_exit_network.h"
#include "l2w/runtime/mixed_precision.h"
#include "l2w/nn/cost_meter.h"

namespace l2w::eval {

// Every exit's logits for every sample of a data set, in loader order, on the CPU.
struct ExitOutputs {
  std::vector<torch::Tensor> logits;  // K tensors [N, classes]
  torch::Tensor labels;               // [N]
};

// Every exit's logits for a batch of float32 images on the device, however they are computed: a network's
// forward, or another engine's stage graphs (infer/stage_engine.h).
using ExitLogits = std::function<std::vector<torch::Tensor>(const torch::Tensor& images)>;

// `logits_of` over one pass of `loader`; the logits come back in float32.
ExitOutputs collect_outputs(const ExitLogits& logits_of, dataset::BatchLoader& loader, const torch::Device& device,
                            runtime::Amp amp = runtime::Amp::kOff);
// The network's forward in eval mode, the images in its weights' dtype.
ExitLogits network_logits(models::MultiExitNetworkImpl& net);
ExitOutputs collect_outputs(models::MultiExitNetworkImpl& net, dataset::BatchLoader& loader,
                            const torch::Device& device, runtime::Amp amp = runtime::Amp::kOff);

struct ExitMetrics {
  double loss = 0;
  double top1 = 0;  // percent
  double top5 = 0;  // percent
};

std::vector<ExitMetrics> anytime_metrics(const ExitOutputs& outputs);

// The per-exit table a person reads: exit, top-1, top-5, loss, MUL-ADDs, params.
std::string anytime_table(const std::vector<ExitMetrics>& metrics, const std::vector<nn::Cost>& costs);
// The same as CSV: exit,top1,top5,loss,muladds,params.
void write_anytime_csv(const std::string& path, const std::vector<ExitMetrics>& metrics,
                       const std::vector<nn::Cost>& costs);

}  // namespace l2w::eval
