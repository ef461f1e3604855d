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

const options::OptionList<JobRequest>& JobRequest::option_list() {
  using namespace options;
  using J = JobRequest;
  static const OptionList<J> list{
      value<J>("dist_url", {"--dist_url"}, L2W_FIELD(dist_url),
               "data-parallel job: rank 0's tcp://HOST:PORT (default: MASTER_ADDR/PORT)")
          .in("distributed"),
      converted<J>(
          "world_size", {"--world_size", "--world-size"}, "N (positive)",
          [](const J& j) { return j.world_size() > 0 ? std::to_string(j.world_size()) : std::string(); },
          [](J& j, const std::string& t) { j.world_size(parse_integer("world_size", t, Check::kPositive)); },
          "processes in the job (default: WORLD_SIZE, else 1)")
          .in("distributed"),
      converted<J>(
          "rank", {"--rank"}, "N (zero or more)",
          [](const J& j) { return j.rank() >= 0 ? std::to_string(j.rank()) : std::string(); },
          [](J& j, const std::string& t) { j.rank(parse_integer("rank", t, Check::kNonNegative)); },
          "this process's rank (default: RANK, else 0)")
          .in("distributed"),
      choice<J>("dist_backend", {"--dist_backend", "--dist-backend"}, L2W_FIELD(backend),
                {{"gloo", "gloo"}, {"nccl", "nccl"}}, "collectives (default: nccl on CUDA, else gloo)")
          .in("distributed"),
      value<J>("dist_timeout", {"--dist_timeout"}, L2W_FIELD(timeout_s),
               "seconds to wait for peers and collectives before failing", Check::kPositive)
          .in("distributed"),
  };
  return list;
}

JobOptions resolve_job(const JobRequest& r) {
  auto job = job_from_environment({});
  if (!r.dist_url().empty()) apply_dist_url(r.dist_url(), job);
  if (r.world_size() > 0) job.world_size = r.world_size();
  if (r.rank() >= 0) job.rank = r.rank();
  job.backend = r.backend();
  job.timeout = std::chrono::milliseconds(static_cast<int64_t>(r.timeout_s() * 1000));
  check_job(job);
  return job;
}

}  // namespace l2w::distributed
