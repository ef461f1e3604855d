// Where a process stands in a data-parallel job, as torchrun describes it (MASTER_ADDR, MASTER_PORT,
// WORLD_SIZE, RANK, LOCAL_RANK) or as the reference's flags do (--dist_url tcp://host:port,
// --world_size, --rank).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <torch/arg.h>

#include "l2w/runtime/option_list.h"

namespace l2w::distributed {

struct JobOptions {
  std::string master_addr = "127.0.0.1";  // rank 0's host, where the rendezvous store listens
  int64_t master_port = 29500;
  int64_t world_size = 1;
  int64_t rank = 0;
  int64_t local_rank = 0;  // this process's index on its machine (its GPU)
  std::string backend;     // "gloo" or "nccl"; empty: NCCL for CUDA, Gloo otherwise
  // How long to wait for peers to arrive and for any collective before failing.
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};

  bool distributed() const { return world_size > 1; }
};

// What a user asks of the job (the reference's flags); what is not given, torchrun's environment decides.
struct JobRequest {
  TORCH_ARG(std::string, dist_url);    // rank 0's tcp://HOST:PORT; empty: MASTER_ADDR and MASTER_PORT
  TORCH_ARG(int64_t, world_size) = 0;  // 0: WORLD_SIZE, else 1
  TORCH_ARG(int64_t, rank) = -1;       // -1: RANK, else 0
  TORCH_ARG(std::string, backend);     // gloo | nccl; empty: NCCL for CUDA, Gloo otherwise
  TORCH_ARG(double, timeout_s) = 600;

 public:
  static const options::OptionList<JobRequest>& option_list();
};

// The job the environment describes with the request's overrides, checked; OptionError naming the
// option, std::invalid_argument for an environment that does not add up.
JobOptions resolve_job(const JobRequest& request);

// `defaults` with the torchrun variables that are set in the environment; std::invalid_argument names
// a malformed one.
JobOptions job_from_environment(JobOptions defaults);
// Sets master_addr and master_port from "tcp://host:port".
void apply_dist_url(const std::string& url, JobOptions& job);
// std::invalid_argument unless rank, world size, port and backend make sense together.
void check_job(const JobOptions& job);

}  // namespace l2w::distributed
