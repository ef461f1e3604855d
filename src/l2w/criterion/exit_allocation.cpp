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

std::vector<int64_t> exit_counts(int64_t n, const std::vector<float>& q) {
  std::vector<int64_t> counts(q.size());
  int64_t taken = 0;
  for (size_t k = 0; k + 1 < q.size(); ++k) taken += counts[k] = quota(n, q[k]);
  counts.back() = n - taken;
  return counts;
}

torch::Tensor allocate_exits_on_device(const torch::Tensor& confidences, const std::vector<float>& q) {
  torch::NoGradGuard no_grad;
  const auto conf = confidences.detach();
  const int64_t n = conf.size(0);
  const int64_t exits = conf.size(1);
  auto exit_of = torch::full({n}, exits - 1, conf.options().dtype(torch::kLong));
  auto taken = torch::zeros({n}, conf.options().dtype(torch::kBool));
  for (int64_t k = 0; k + 1 < exits; ++k) {
    const int64_t want = quota(n, q[k]);
    if (want == 0) continue;
    // Most confident first; equal confidences keep the lower index first, as the host's stable sort.
    const auto order = std::get<1>(conf.select(1, k).sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
    const auto free_in_order = taken.index_select(0, order).logical_not();
    const auto chosen = free_in_order.logical_and(free_in_order.cumsum(0) <= want);
    exit_of.scatter_(0, order, torch::where(chosen, torch::full_like(order, k), exit_of.index_select(0, order)));
    taken.scatter_(0, order, chosen.logical_or(free_in_order.logical_not()));
  }
  return exit_of;
}

std::vector<torch::Tensor> rows_by_exit(const torch::Tensor& exits, const std::vector<float>& q) {
  // A stable sort by exit groups the samples exit by exit, each group in ascending sample order.
  const auto grouped = std::get<1>(exits.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  std::vector<torch::Tensor> rows;
  int64_t begin = 0;
  for (int64_t count : exit_counts(exits.size(0), q)) {
    rows.push_back(grouped.slice(0, begin, begin + count));
    begin += count;
  }
  return rows;
}

}  // namespace l2w::criterion
