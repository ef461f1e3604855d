#include "l2w/models/multi_exit_network.h"

namespace l2w::models {

std::vector<torch::Tensor> MultiExitNetworkImpl::forward(const torch::Tensor& images) {
  std::vector<torch::Tensor> logits;
  Features features{images};
  for (int64_t k = 0; k < num_exits(); ++k) {
    features = run_block(k, features);
    logits.push_back(run_exit(k, features));
  }
  return logits;
}

}  // namespace l2w::models
