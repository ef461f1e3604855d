#include "l2w/eval/anytime.h"
#include "l2w/runtime/atomic_file.h"

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "l2w/eval/accuracy.h"

namespace l2w::eval {

ExitOutputs collect_outputs(const ExitLogits& logits_of, dataset::BatchLoader& loader, const torch::Device& device,
                            runtime::Amp amp) {
  torch::NoGradGuard no_grad;
  std::vector<std::vector<torch::Tensor>> per_exit;
  std::vector<torch::Tensor> labels;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    runtime::AutocastGuard autocast(amp, device);
    const auto logits = logits_of(batch->images.to(device, /*non_blocking=*/true));
    per_exit.resize(logits.size());
    // Kept on the device until the end: one copy to the host instead of a wait per batch.
    for (size_t k = 0; k < logits.size(); ++k) per_exit[k].push_back(logits[k].to(torch::kFloat32));
    labels.push_back(batch->labels);
  }
  ExitOutputs out;
  for (auto& chunks : per_exit) out.logits.push_back(torch::cat(chunks).cpu());
  out.labels = torch::cat(labels);
  return out;
}

ExitLogits network_logits(models::MultiExitNetworkImpl& net) {
  // The weights' dtype: a network deployed in bfloat16 (runtime/precision.h) takes its images in it.
  const auto dtype = net.parameters().front().scalar_type();
  return [&net, dtype](const torch::Tensor& images) { return net.forward(images.to(dtype)); };
}

ExitOutputs collect_outputs(models::MultiExitNetworkImpl& net, dataset::BatchLoader& loader,
                            const torch::Device& device, runtime::Amp amp) {
  const bool was_training = net.is_training();
  net.eval();
  auto out = collect_outputs(network_logits(net), loader, device, amp);
  net.train(was_training);
  return out;
}

std::vector<ExitMetrics> anytime_metrics(const ExitOutputs& outputs) {
  std::vector<ExitMetrics> metrics;
  const double n = double(outputs.labels.size(0));
  for (const auto& logits : outputs.logits) {
    ExitMetrics m;
    m.loss = torch::nn::functional::cross_entropy(logits, outputs.labels).item<double>();
    m.top1 = 100.0 * double(topk_correct(logits, outputs.labels, 1)) / n;
    m.top5 = 100.0 * double(topk_correct(logits, outputs.labels, 5)) / n;
    metrics.push_back(m);
  }
  return metrics;
}

std::string anytime_table(const std::vector<ExitMetrics>& metrics, const std::vector<nn::Cost>& costs) {
  std::string out = "exit   top-1 %   top-5 %    loss    MUL-ADDs (M)   params (M)\n";
  char line[160];
  for (size_t k = 0; k < metrics.size(); ++k) {
    std::snprintf(line, sizeof line, "%4zu   %7.2f   %7.2f   %6.4f   %12.2f   %10.3f\n", k + 1, metrics[k].top1,
                  metrics[k].top5, metrics[k].loss, k < costs.size() ? double(costs[k].muladds) / 1e6 : 0.0,
                  k < costs.size() ? double(costs[k].params) / 1e6 : 0.0);
    out += line;
  }
  return out;
}

void write_anytime_csv(const std::string& path, const std::vector<ExitMetrics>& metrics,
                       const std::vector<nn::Cost>& costs) {
  std::ostringstream out;
  out << "exit,top1,top5,loss,muladds,params\n";
  for (size_t k = 0; k < metrics.size(); ++k) {
    out << k + 1 << ',' << metrics[k].top1 << ',' << metrics[k].top5 << ',' << metrics[k].loss << ','
        << (k < costs.size() ? costs[k].muladds : 0) << ',' << (k < costs.size() ? costs[k].params : 0) << '\n';
  }
  runtime::write_file_atomically(path, out.str());
}

}  // namespace l2w::eval
