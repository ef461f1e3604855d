#include "l2w/nn/channels_last_conv.h"

#include <torch/csrc/jit/frontend/tracer.h>

#include "l2w/nn/sequential_edit.h"

namespace l2w::nn {

ChannelsLastConvImpl::ChannelsLastConvImpl(const torch::nn::Conv2dImpl& conv) : Conv2dImpl(options_of(conv)) {
  take_parameters_of(conv, *this);
  refresh();
}

void ChannelsLastConvImpl::refresh() {
  torch::NoGradGuard no_grad;
  weight_channels_last_ = weight.detach().contiguous(torch::MemoryFormat::ChannelsLast);
}

bool takes_channels_last_path(const torch::Tensor& x) {
  return x.is_cpu() && x.dim() == 4 && x.size(0) == 1 && x.is_contiguous() && !torch::jit::tracer::isTracing() &&
         !torch::GradMode::is_enabled();
}

torch::Tensor ChannelsLastConvImpl::forward(const torch::Tensor& x) {
  if (!takes_channels_last_path(x) || weight_channels_last_.scalar_type() != weight.scalar_type())
    return Conv2dImpl::forward(x);
  const auto& o = options;
  const auto* padding = std::get_if<torch::ExpandingArray<2>>(&o.padding());
  TORCH_CHECK(padding != nullptr, "ChannelsLastConv: padding given as a mode");
  return torch::conv2d(x.contiguous(torch::MemoryFormat::ChannelsLast), weight_channels_last_, bias, *o.stride(),
                       **padding, *o.dilation(), o.groups())
      .contiguous();
}

}  // namespace l2w::nn
