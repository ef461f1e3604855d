// Where a process stands in a data-parallel job, as torchrun describes it (MASTER_ADDR, MASTER_PORT,
// WORLD_SIZE, RANK, LOCAL_RANK) or as the reference's flags do (--dist_url tcp://host:port,
// --world_size, --rank).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

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

// `defaults` with the torchrun variables that are set in the environment; std::invalid_argument names
// a malformed one.
JobOptions job_from_environment(JobOptions defaults);
// Sets master_addr and master_port from "tcp://host:port".
void apply_dist_url(const std::string& url, JobOptions& job);
// std::invalid_argument unless rank, world size, port and backend make sense together.
void check_job(const JobOptions& job);

}  // namespace l2w::distributed
