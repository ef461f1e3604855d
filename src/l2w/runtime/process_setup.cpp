#include "l2w/runtime/process_setup.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "l2w/runtime/device.h"

namespace l2w::runtime {

const options::OptionList<RuntimeOptions>& RuntimeOptions::option_list() {
  using namespace options;
  using R = RuntimeOptions;
  static const OptionList<R> list{
      value<R>("threads", {"--threads"}, L2W_FIELD(threads),
               "LibTorch threads (0: OMP_NUM_THREADS if set, else all cores, shared among l2w launch's ranks)",
               Check::kNonNegative)
          .in("runtime"),
      value<R>("device", {"--device", "--gpu"}, L2W_FIELD(device), "cpu | cuda[:i]").in("runtime"),
  };
  return list;
}

void set_up_process() {
#ifdef __GLIBC__
  // Training allocates and frees the same multi-megabyte activations every step. glibc would hand them
  // back to the kernel (mmap above 128 KiB by default, heap trimming) and page-fault them in again, a
  // visible share of a CPU training step. Keep them in the heap instead.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 256 << 20);
#endif
  // oneDNN keeps 1024 prepared convolution kernels by default; early-exit inference meets each layer at
  // several batch sizes (docs/inference.md), more than that on the larger networks. Read at first use.
  setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "8192", /*overwrite=*/0);
}

torch::Device set_up_run(const RuntimeOptions& o) {
  set_up_process();
  // LibTorch may start with fewer threads than cores: set the count explicitly. Without a count,
  // OMP_NUM_THREADS decides, as for any LibTorch program (torchrun sets it to 1 for several ranks; the
  // test suite, to share the cores among the tests it runs at once); without either, several ranks on
  // one machine (l2w launch) share its cores.
  const char* omp_threads = std::getenv("OMP_NUM_THREADS");
  const char* local_world = std::getenv("LOCAL_WORLD_SIZE");
  const int sharing = local_world != nullptr ? std::max(1, std::atoi(local_world)) : 1;
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  int threads = std::max(1, cores / sharing);
  if (omp_threads != nullptr && std::atoi(omp_threads) > 0) threads = std::atoi(omp_threads);
  if (o.threads() > 0) threads = int(o.threads());
  at::set_num_threads(threads);
  try {
    const torch::Device device = parse_device(o.device());
    prepare(device);
    return device;
  } catch (const std::invalid_argument& e) {
    throw options::OptionError("device", e.what());
  }
}

}  // namespace l2w::runtime
