#include "l2w/distributed/job_options.h"
#include "l2w/runtime/option_list.h"

#include <cstdlib>
#include <stdexcept>

namespace l2w::distributed {
namespace {

int64_t integer_variable(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  if (*end != '\0') throw std::invalid_argument(std::string("environment variable ") + name + "='" + value +
                                                "' is not an integer");
  return parsed;
}

}  // namespace

JobOptions job_from_environment(JobOptions job) {
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') job.master_addr = addr;
  job.master_port = integer_variable("MASTER_PORT", job.master_port);
  job.world_size = integer_variable("WORLD_SIZE", job.world_size);
  job.rank = integer_variable("RANK", job.rank);
  job.local_rank = integer_variable("LOCAL_RANK", job.local_rank);
  return job;
}

void apply_dist_url(const std::string& url, JobOptions& job) {
  const std::string scheme = "tcp://";
  const auto colon = url.rfind(':');
  if (url.compare(0, scheme.size(), scheme) != 0 || colon == std::string::npos || colon < scheme.size() + 1)
    throw options::OptionError("dist_url", "'" + url + "': expected tcp://HOST:PORT");
  job.master_addr = url.substr(scheme.size(), colon - scheme.size());
  const std::string port = url.substr(colon + 1);
  char* end = nullptr;
  job.master_port = std::strtoll(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0') throw options::OptionError("dist_url", "'" + url + "': the port is not a number");
}

void check_job(const JobOptions& job) {
  if (job.world_size < 1) throw std::invalid_argument("world size " + std::to_string(job.world_size) + " must be positive");
  if (job.rank < 0 || job.rank >= job.world_size)
    throw std::invalid_argument("rank " + std::to_string(job.rank) + " is not in a world of " +
                                std::to_string(job.world_size) + " processes (ranks 0 to " +
                                std::to_string(job.world_size - 1) + ")");
  if (job.master_port < 1 || job.master_port > 65535)
    throw std::invalid_argument("port " + std::to_string(job.master_port) + " is not in 1..65535");
  if (!job.backend.empty() && job.backend != "gloo" && job.backend != "nccl")
    throw options::OptionError("dist_backend", "'" + job.backend + "': expected gloo or nccl");
  if (job.timeout.count() <= 0) throw std::invalid_argument("the distributed timeout must be positive");
}

}  // namespace l2w::distributed
