#include "l2w/infer/inference_form.h"

#include "l2w/nn/batch_norm_folding.h"
#include "l2w/nn/classifier_module.h"
#include "l2w/nn/pointwise_conv.h"
#include "l2w/runtime/precision.h"

namespace l2w::infer {

void set_memory_format(models::MultiExitNetworkImpl& net, torch::MemoryFormat format) {
  torch::NoGradGuard no_grad;
  for (auto& p : net.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(format));
}

void set_precision(models::MultiExitNetworkImpl& net, torch::ScalarType dtype) {
  std::vector<std::pair<torch::nn::Module*, runtime::SavedWeights>> heads;
  for (const auto& module : net.modules())
    if (auto* head = dynamic_cast<nn::ClassifierModuleImpl*>(module.get()))
      heads.emplace_back(head->linear.get(), runtime::SavedWeights::of(*head->linear));
  runtime::cast_floating(net, dtype);
  for (const auto& [linear, weights] : heads) weights.restore(*linear);
}

InferenceForm to_inference_form(models::MultiExitNetworkImpl& net, const InferenceFormOptions& options) {
  net.eval();
  InferenceForm form;
  form.folded_batch_norms = nn::fold_batch_norms(net);
  form.pointwise_convs = nn::use_pointwise_convs(net);
  torch::NoGradGuard no_grad;
  for (auto& p : net.parameters()) p.set_requires_grad(false);
  if (options.channels_last()) form.input_format = torch::MemoryFormat::ChannelsLast;
  set_memory_format(net, form.input_format);
  return form;
}

}  // namespace l2w::infer
