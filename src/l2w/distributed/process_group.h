// Joining a data-parallel job through LibTorch's c10d: rendezvous in a TCPStore hosted by rank 0, then
// a Gloo process group (CPU and CUDA tensors) or, in builds with L2W_WITH_NCCL, an NCCL one.
//
// A peer that never arrives, dies or hangs ends every process with a DistributedError naming it: each
// rank records its arrival and, from its own store connection, a heartbeat twice a second; a rank that
// fails records why. When a collective fails (a closed connection, or job.timeout passing), the
// survivors look up which peers stopped beating without a word (killed, crashed or hung) or reported
// a failure, and say so.
#pragma once

#include <memory>

#include <torch/torch.h>

#include "l2w/distributed/communicator.h"
#include "l2w/distributed/job_options.h"

namespace l2w::distributed {

// True when this build has c10d (the CMake option L2W_WITH_DISTRIBUTED found LibTorch's distributed
// headers and Gloo's).
bool c10d_available();

// Blocks until all `job.world_size` ranks have arrived (or job.timeout has passed), then returns this
// rank's communicator. `device`'s type chooses the backend when job.backend is empty.
std::shared_ptr<Communicator> join_job(const JobOptions& job, const torch::Device& device);

}  // namespace l2w::distributed
