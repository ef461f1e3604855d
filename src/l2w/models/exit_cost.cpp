#include "l2w/models/exit_cost.h"

namespace l2w::models {

std::vector<nn::Cost> exit_costs(MultiExitNetworkImpl& net, const std::vector<int64_t>& input_shape) {
  torch::NoGradGuard no_grad;
  const bool was_training = net.is_training();
  net.eval();  // leaves the BatchNorm statistics alone
  std::vector<int64_t> shape{1};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  auto device = net.parameters().front().device();
  std::vector<nn::Cost> costs;
  {
    nn::CostMeter meter;
    Features features{torch::zeros(shape, torch::TensorOptions().device(device))};
    for (int64_t k = 0; k < net.num_exits(); ++k) {
      features = net.run_block(k, features);
      net.run_exit(k, features);
      costs.push_back(meter.total());
    }
  }
  net.train(was_training);
  return costs;
}

}  // namespace l2w::models
