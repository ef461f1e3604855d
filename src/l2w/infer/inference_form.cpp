#include "l2w/infer/inference_form.h"

#include "l2w/nn/batch_norm_folding.h"

namespace l2w::infer {

InferenceForm to_inference_form(models::MultiExitNetworkImpl& net, const InferenceFormOptions& options) {
  net.eval();
  InferenceForm form;
  form.folded_batch_norms = nn::fold_batch_norms(net);
  torch::NoGradGuard no_grad;
  for (auto& p : net.parameters()) {
    p.set_requires_grad(false);
    if (options.channels_last() && p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  if (options.channels_last()) form.input_format = torch::MemoryFormat::ChannelsLast;
  return form;
}

}  // namespace l2w::infer
