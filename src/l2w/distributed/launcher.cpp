#include "l2w/distributed/launcher.h"
#include "l2w/runtime/option_list.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <map>
#include <stdexcept>
#include <thread>

namespace l2w::distributed {
namespace {

volatile std::sig_atomic_t g_forward_signal = 0;

void remember_signal(int signal) { g_forward_signal = signal; }

}  // namespace

int64_t free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("l2w launch: no socket for a free port: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("l2w launch: cannot find a free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

namespace {

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return "was killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exit_code(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

pid_t start_rank(const std::vector<std::string>& command, const std::map<std::string, std::string>& environment) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("l2w launch: fork failed: ") + std::strerror(errno));
  if (pid > 0) return pid;
#ifdef __linux__
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a launcher that dies takes its ranks with it
#endif
  for (const auto& [name, value] : environment) ::setenv(name.c_str(), value.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  std::cerr << "l2w launch: cannot run " << command[0] << ": " << std::strerror(errno) << std::endl;
  ::_exit(127);
}

// Checks the options and picks a free port for a single-machine job without one.
void complete_options(const std::vector<std::string>& command, LaunchOptions& options) {
  if (command.empty()) throw std::invalid_argument("l2w launch: nothing to run (give it after --)");
  if (options.nproc < 1) throw options::OptionError("nproc", "must be positive");
  if (options.nnodes < 1 || options.node_rank < 0 || options.node_rank >= options.nnodes)
    throw options::OptionError("node_rank", std::to_string(options.node_rank) + " is not in 0.." +
                                                std::to_string(options.nnodes - 1));
  if (options.master_port == 0) {
    if (options.nnodes > 1) throw options::OptionError("master_port", "a job of several machines needs one");
    options.master_port = free_local_port();
  }
}

// This machine's ranks, each with torchrun's environment; returns pid -> rank.
std::map<pid_t, int64_t> start_ranks(const std::vector<std::string>& command, const LaunchOptions& options) {
  const int64_t world = options.nproc * options.nnodes;
  std::map<pid_t, int64_t> running;
  for (int64_t local = 0; local < options.nproc; ++local) {
    const int64_t rank = options.node_rank * options.nproc + local;
    const std::map<std::string, std::string> environment = {
        {"MASTER_ADDR", options.master_addr},     {"MASTER_PORT", std::to_string(options.master_port)},
        {"WORLD_SIZE", std::to_string(world)},    {"RANK", std::to_string(rank)},
        {"LOCAL_RANK", std::to_string(local)},    {"LOCAL_WORLD_SIZE", std::to_string(options.nproc)}};
    running[start_rank(command, environment)] = rank;
  }
  return running;
}

// Waits for the ranks, forwarding SIGINT, SIGTERM and SIGUSR1. After the first failure the others get
// `grace` to finish, then SIGTERM, then SIGKILL. Returns the first failure's exit code, or 0. A rank that
// stops pre-empted (exit status 75, after its checkpoint) is not a failure: the others stop the same way.
int supervise(std::map<pid_t, int64_t> running, std::chrono::milliseconds grace) {
  int result = 0;
  std::chrono::steady_clock::time_point failed_at;
  bool terminated = false, killed = false, preempted = false;
  while (!running.empty()) {
    if (g_forward_signal != 0) {
      for (const auto& entry : running) ::kill(entry.first, g_forward_signal);
      g_forward_signal = 0;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      const int64_t rank = running.at(pid);
      running.erase(pid);
      if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) || result != 0) continue;
      if (WIFEXITED(status) && WEXITSTATUS(status) == kPreemptedExitStatus) {
        preempted = true;
        continue;
      }
      std::cerr << "l2w launch: rank " << rank << " " << describe_status(status) << std::endl;
      result = exit_code(status);
      failed_at = std::chrono::steady_clock::now();
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (result != 0) {
      const auto waited = std::chrono::steady_clock::now() - failed_at;
      if (!terminated && waited > grace) {
        for (const auto& entry : running) ::kill(entry.first, SIGTERM);
        terminated = true;
      } else if (!killed && waited > grace + std::chrono::seconds(5)) {
        for (const auto& entry : running) ::kill(entry.first, SIGKILL);
        killed = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return result != 0 ? result : preempted ? kPreemptedExitStatus : 0;
}

}  // namespace

int launch(const std::vector<std::string>& command, LaunchOptions options) {
  complete_options(command, options);
  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction previous_int {}, previous_term {}, previous_usr1 {};
  ::sigaction(SIGINT, &action, &previous_int);
  ::sigaction(SIGTERM, &action, &previous_term);
  ::sigaction(SIGUSR1, &action, &previous_usr1);
  const int result = supervise(start_ranks(command, options), options.grace);
  ::sigaction(SIGINT, &previous_int, nullptr);
  ::sigaction(SIGTERM, &previous_term, nullptr);
  ::sigaction(SIGUSR1, &previous_usr1, nullptr);
  return result;
}

}  // namespace l2w::distributed
