#include "l2w/distributed/communicator.h"

namespace l2w::distributed {
namespace {

// Copies `tensors` into one flat buffer per element type, lets `op` work on each buffer, copies back.
void flat_by_type(const std::vector<torch::Tensor>& tensors, const std::function<void(torch::Tensor&)>& op) {
  torch::NoGradGuard no_grad;
  std::vector<bool> done(tensors.size(), false);
  for (size_t first = 0; first < tensors.size(); ++first) {
    if (done[first]) continue;
    std::vector<size_t> group;
    std::vector<torch::Tensor> flat;
    for (size_t i = first; i < tensors.size(); ++i) {
      if (!done[i] && tensors[i].options().type_equal(tensors[first].options())) {
        group.push_back(i);
        flat.push_back(tensors[i].reshape(-1));
        done[i] = true;
      }
    }
    auto buffer = torch::cat(flat);
    op(buffer);
    int64_t offset = 0;
    for (size_t i : group) {
      const auto& t = tensors[i];
      t.copy_(buffer.narrow(0, offset, t.numel()).view_as(t));
      offset += t.numel();
    }
  }
}

}  // namespace

void all_reduce_sum(Communicator& comm, const std::vector<torch::Tensor>& tensors) {
  flat_by_type(tensors, [&](torch::Tensor& buffer) { comm.all_reduce_sum(buffer); });
}

void broadcast(Communicator& comm, const std::vector<torch::Tensor>& tensors, int64_t root) {
  flat_by_type(tensors, [&](torch::Tensor& buffer) { comm.broadcast(buffer, root); });
}

torch::Tensor all_gather_rows(Communicator& comm, const torch::Tensor& rows) {
  // all_gather needs one shape: pad every rank's rows to the longest, then cut each back.
  const auto counts = comm.all_gather(torch::tensor({rows.size(0)}, torch::kInt64).to(rows.device()));
  int64_t longest = 0;
  std::vector<int64_t> sizes;
  for (const auto& c : counts) {
    sizes.push_back(c.cpu().item<int64_t>());
    longest = std::max(longest, sizes.back());
  }
  auto shape = rows.sizes().vec();
  shape[0] = longest;
  auto padded = torch::zeros(shape, rows.options());
  padded.narrow(0, 0, rows.size(0)).copy_(rows);
  const auto gathered = comm.all_gather(padded);
  std::vector<torch::Tensor> parts;
  for (size_t r = 0; r < gathered.size(); ++r) parts.push_back(gathered[r].narrow(0, 0, sizes[r]));
  return torch::cat(parts);
}

}  // namespace l2w::distributed
