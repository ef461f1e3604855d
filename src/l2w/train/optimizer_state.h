// PyTorch's optimizer state_dict layout, shared by Sgd and Adam.
#pragma once

#include <torch/torch.h>

namespace l2w::train {

// {"state": state, "param_groups": [group + {"params": [0..n-1]}]}: one parameter group, as the
// reference's optimizers have.
inline c10::IValue optimizer_state_dict(const c10::impl::GenericDict& state, c10::impl::GenericDict group,
                                        size_t num_params) {
  c10::impl::GenericList ids(c10::AnyType::get());  // a plain list: no TorchScript int-list in the pickle
  for (size_t i = 0; i < num_params; ++i) ids.push_back(static_cast<int64_t>(i));
  group.insert("params", ids);
  c10::impl::GenericList groups(c10::AnyType::get());
  groups.push_back(group);
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("state", state);
  out.insert("param_groups", groups);
  return out;
}

}  // namespace l2w::train
