#include "l2w/criterion/exit_allocation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace l2w::criterion {

std::vector<float> target_proportions(int64_t p_index, int64_t num_exits) {
  const float p = float(p_index) / 20.0f;
  std::vector<float> q(num_exits);
  float sum = 0.0f;
  for (int64_t k = 0; k < num_exits; ++k) {
    q[k] = std::exp(std::log(p) * float(k + 1));
    sum += q[k];
  }
  for (auto& v : q) v /= sum;
  return q;
}

int64_t quota(int64_t n, float q) { return static_cast<int64_t>(std::floor(float(n) * q)); }

std::vector<int64_t> allocate_exits(const torch::Tensor& confidences, const std::vector<float>& q) {
  const auto conf = confidences.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = conf.size(0);
  const int64_t exits = conf.size(1);
  const auto* c = conf.data_ptr<double>();
  std::vector<int64_t> exit_of(n, exits - 1);
  std::vector<bool> taken(n, false);
  std::vector<int64_t> order(n);
  for (int64_t k = 0; k + 1 < exits; ++k) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return c[a * exits + k] > c[b * exits + k]; });
    int64_t want = quota(n, q[k]);
    for (int64_t i : order) {
      if (want == 0) break;
      if (taken[i]) continue;
      taken[i] = true;
      exit_of[i] = k;
      --want;
    }
  }
  return exit_of;
}

}  // namespace l2w::criterion
