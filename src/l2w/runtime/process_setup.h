// How an l2w process sets up LibTorch, for the command line and for `import l2w` alike: the allocator's
// policy and oneDNN's kernel cache (set_up_process), and the thread count and device of a run.
#pragma once

#include <string>

#include <torch/torch.h>

#include "l2w/runtime/option_list.h"

namespace l2w::runtime {

struct RuntimeOptions {
  // LibTorch's intra-op threads; 0: OMP_NUM_THREADS if set, else the cores, shared among the ranks of
  // l2w launch on this machine (LOCAL_WORLD_SIZE).
  TORCH_ARG(int64_t, threads) = 0;
  TORCH_ARG(std::string, device) = "cpu";  // cpu | cuda[:i]

 public:
  static const options::OptionList<RuntimeOptions>& option_list();
};

// The allocator's policy and oneDNN's cache size; once per process, before the first tensor if it can.
void set_up_process();

// set_up_process(), the thread count, and the device, checked and prepared; OptionError naming the
// option that does not fit.
torch::Device set_up_run(const RuntimeOptions& options);

}  // namespace l2w::runtime
