// Anytime evaluation (docs/algorithm.md, "Dynamic evaluation"): every exit's loss, top-1 and top-5 on a data set.
#pragma once

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

// Runs the network in eval mode over one pass of `loader`, the images in its weights' dtype; the logits
// come back in float32.
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
