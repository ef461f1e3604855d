#include "l2w/distributed/process_group.h"
#include "l2w/runtime/option_list.h"

#ifdef L2W_WITH_C10D

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef L2W_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace l2w::distributed {
namespace {

using Clock = std::chrono::steady_clock;
using Store = c10::intrusive_ptr<c10d::TCPStore>;

std::string key(const std::string& what, int64_t rank) { return "l2w/" + what + "/" + std::to_string(rank); }

std::string where(const JobOptions& job) { return job.master_addr + ":" + std::to_string(job.master_port); }

std::string seconds(std::chrono::milliseconds t) {
  std::ostringstream s;
  s << double(t.count()) / 1000.0 << " s";
  return s.str();
}

// A one-line message: c10d's errors carry their C++ backtrace after the first line.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// c10d logs a failed connection on its own as well (through glog in builds that use it); the
// DistributedError below says it once, in one line.
class QuietC10dLog {
 public:
#ifdef C10_USE_GLOG
  QuietC10dLog() : saved_(FLAGS_minloglevel) { FLAGS_minloglevel = std::max(saved_, google::GLOG_FATAL); }
  ~QuietC10dLog() { FLAGS_minloglevel = saved_; }
#else
  QuietC10dLog() : saved_(FLAGS_caffe2_log_level) { FLAGS_caffe2_log_level = std::max(saved_, 3); }  // 3: FATAL
  ~QuietC10dLog() { FLAGS_caffe2_log_level = saved_; }
#endif

 private:
  int saved_;
};

Store connect_store(const JobOptions& job, bool server, std::chrono::milliseconds timeout) {
  const QuietC10dLog quiet;
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(job.master_port);
  o.isServer = server;
  o.numWorkers = static_cast<std::size_t>(job.world_size);
  o.waitWorkers = false;  // arrival is checked rank by rank below, to name the missing ones
  o.timeout = timeout;
  try {
    return c10::make_intrusive<c10d::TCPStore>(job.master_addr, o);
  } catch (const std::exception& e) {
    if (server)
      throw DistributedError("rank 0 cannot host the rendezvous store at " + where(job) + ": " + first_line(e.what()));
    throw DistributedError("rank " + std::to_string(job.rank) + " could not reach rank 0's rendezvous store at " +
                           where(job) + " within " + seconds(timeout) + ": " + first_line(e.what()));
  }
}

std::string rank_list(const std::vector<int64_t>& ranks) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

void wait_for_everyone(c10d::Store& store, const JobOptions& job) {
  store.set(key("arrived", job.rank), std::vector<uint8_t>{1});
  const auto deadline = Clock::now() + job.timeout;
  for (;;) {
    std::vector<int64_t> missing;
    for (int64_t r = 0; r < job.world_size; ++r) {
      if (!store.check({key("arrived", r)})) missing.push_back(r);
    }
    if (missing.empty()) return;
    if (Clock::now() > deadline)
      throw DistributedError(rank_list(missing) + " of " + std::to_string(job.world_size) +
                             " did not join the job at " + where(job) + " within " + seconds(job.timeout));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Twice a second, from its own connection, this rank's counter in the store goes up.
class Heartbeat {
 public:
  static constexpr std::chrono::milliseconds kPeriod{500};

  explicit Heartbeat(const JobOptions& job) : store_(connect_store(job, false, job.timeout)), rank_(job.rank) {
    thread_ = std::thread([this] { run(); });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      try {
        store_->add(key("heartbeat", rank_), 1);
      } catch (const std::exception&) {
        return;  // rank 0 and its store are gone: the next collective reports it
      }
      wake_.wait_for(lock, kPeriod, [this] { return stop_; });
    }
  }

  Store store_;
  int64_t rank_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// A Communicator over a c10d process group of type Group (Gloo or NCCL; their methods are the same).
// NCCL reduces only GPU tensors: with a `device`, others travel through it.
template <typename Group>
class ProcessGroupCommunicator : public Communicator {
 public:
  ProcessGroupCommunicator(JobOptions job, Store store, c10::intrusive_ptr<Group> group,
                           std::optional<torch::Device> device = std::nullopt)
      : job_(std::move(job)), store_(std::move(store)), group_(std::move(group)), device_(device), heartbeat_(job_) {}

  int64_t rank() const override { return job_.rank; }
  int64_t world_size() const override { return job_.world_size; }

  std::function<void()> all_reduce_sum_async(torch::Tensor tensor) override {
    std::vector<at::Tensor> tensors{staged(tensor)};
    auto work = checked("all-reduce", [&] { return group_->allreduce(tensors); });
    return [this, work, tensors, tensor] {
      checked("all-reduce", [&] { return work->wait(job_.timeout); });
      if (!tensors[0].is_same(tensor)) tensor.copy_(tensors[0]);
    };
  }

  void broadcast(torch::Tensor tensor, int64_t root) override {
    std::vector<at::Tensor> tensors{staged(tensor)};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    checked("broadcast", [&] { return group_->broadcast(tensors, o)->wait(job_.timeout); });
    if (!tensors[0].is_same(tensor)) tensor.copy_(tensors[0]);
  }

  std::vector<torch::Tensor> all_gather(const torch::Tensor& tensor) override {
    std::vector<at::Tensor> inputs{staged(tensor).contiguous()};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int64_t r = 0; r < job_.world_size; ++r) outputs[0].push_back(torch::empty_like(inputs[0]));
    checked("all-gather", [&] { return group_->allgather(outputs, inputs)->wait(job_.timeout); });
    for (auto& t : outputs[0]) t = t.to(tensor.device());
    return outputs[0];
  }

  void barrier() override {
    checked("barrier", [&] { return group_->barrier()->wait(job_.timeout); });
  }

  void report_failure(const std::string& why) override {
    try {
      const std::string text = first_line(why);
      store_->set(key("failed", job_.rank), std::vector<uint8_t>(text.begin(), text.end()));
    } catch (const std::exception&) {
      // The store is gone with rank 0; the peers find out from their own collectives.
    }
  }

 private:
  torch::Tensor staged(const torch::Tensor& t) const {
    return device_ && t.device() != *device_ ? t.to(*device_) : t;
  }

  template <typename Op>
  auto checked(const char* what, const Op& op) -> decltype(op()) {
    try {
      return op();
    } catch (const DistributedError&) {
      throw;
    } catch (const std::exception& e) {
      throw DistributedError(diagnose(what, first_line(e.what())));
    }
  }

  // Which peers are to blame for a failed collective: those that reported a failure, and those whose
  // heartbeat stopped without a word.
  std::string diagnose(const std::string& what, const std::string& cause) {
    const std::string seen = what + " failed on rank " + std::to_string(job_.rank) + ": " + cause;
    try {
      auto probe = connect_store(job_, false, std::chrono::seconds(5));
      std::vector<int64_t> before(job_.world_size), silent;
      for (int64_t r = 0; r < job_.world_size; ++r) before[r] = probe->add(key("heartbeat", r), 0);
      std::this_thread::sleep_for(4 * Heartbeat::kPeriod);
      std::string failed;
      for (int64_t r = 0; r < job_.world_size; ++r) {
        if (r == job_.rank) continue;
        if (probe->check({key("failed", r)})) {
          const auto why = probe->get(key("failed", r));
          failed += "; rank " + std::to_string(r) + " failed: " + std::string(why.begin(), why.end());
        } else if (probe->add(key("heartbeat", r), 0) == before[r]) {
          silent.push_back(r);
        }
      }
      if (!silent.empty())
        return rank_list(silent) + " stopped responding without a word (killed, crashed or hung) (" + seen + ")" + failed;
      if (!failed.empty()) return failed.substr(2) + " (" + seen + ")";
      return seen + " (every peer is still alive: a hang, or a timeout of " + seconds(job_.timeout) + ")";
    } catch (const DistributedError&) {
      return "rank 0, which hosts the rendezvous store at " + where(job_) + ", is gone (" + seen + ")";
    }
  }

  JobOptions job_;
  Store store_;
  c10::intrusive_ptr<Group> group_;
  std::optional<torch::Device> device_;
  Heartbeat heartbeat_;
};

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

}  // namespace

bool c10d_available() { return true; }

std::shared_ptr<Communicator> join_job(const JobOptions& job, const torch::Device& device) {
  check_job(job);
  const std::string backend = !job.backend.empty() ? job.backend : device.is_cuda() ? "nccl" : "gloo";
  auto store = connect_store(job, job.rank == 0, job.timeout);
  wait_for_everyone(*store, job);
  if (backend == "nccl") {
#ifdef L2W_WITH_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = job.timeout;
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, job.rank, job.world_size, options);
    return std::make_shared<ProcessGroupCommunicator<c10d::ProcessGroupNCCL>>(job, store, group, device);
#else
    if (!job.backend.empty())
      throw options::OptionError("dist_backend", "nccl: this build has no NCCL (configure with -DL2W_WITH_NCCL=ON)");
    // Without NCCL, Gloo serves CUDA tensors too (through host memory).
#endif
  }
  auto options = c10d::ProcessGroupGloo::Options::create(job.timeout);
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface != '\0') {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  } else if (is_loopback(job.master_addr)) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  try {
    group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, job.rank, job.world_size, options);
  } catch (const std::exception& e) {
    throw DistributedError("rank " + std::to_string(job.rank) + " could not connect to its peers: " +
                           first_line(e.what()));
  }
  return std::make_shared<ProcessGroupCommunicator<c10d::ProcessGroupGloo>>(job, store, group);
}

}  // namespace l2w::distributed

#else  // a build without c10d

namespace l2w::distributed {

bool c10d_available() { return false; }

std::shared_ptr<Communicator> join_job(const JobOptions& job, const torch::Device&) {
  throw DistributedError("this l2w was built without LibTorch's distributed package (c10d and Gloo headers), so it "
                         "cannot join a job of " + std::to_string(job.world_size) + " processes");
}

}  // namespace l2w::distributed

#endif
