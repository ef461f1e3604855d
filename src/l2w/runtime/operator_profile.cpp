#include "l2w/runtime/operator_profile.h"

#include <algorithm>
#include <map>
#include <set>

#include <torch/csrc/autograd/profiler_kineto.h>

namespace l2w::runtime {
namespace {

namespace kineto = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

const std::set<ActivityType> kActivities{ActivityType::CPU};

struct Span {
  uint64_t start, end;
  std::string name;
  uint64_t children = 0;  // time inside operators this one called
};

}  // namespace

OperatorProfile::OperatorProfile() {
  const ProfilerConfig config(ProfilerState::KINETO);
  kineto::prepareProfiler(config, kActivities);
  kineto::enableProfiler(config, kActivities);
  running_ = true;
}

OperatorProfile::~OperatorProfile() {
  if (running_) kineto::disableProfiler();
}

std::vector<OperatorTime> OperatorProfile::stop() {
  running_ = false;
  const auto result = kineto::disableProfiler();
  // Operators nest on each thread (aten::conv2d calls aten::convolution, ...): a stack per thread finds
  // each one's caller.
  std::map<uint64_t, std::vector<Span>> by_thread;
  for (const auto& e : result->events()) {
    if (e.isAsync() || e.deviceType() != c10::DeviceType::CPU || e.endNs() < e.startNs()) continue;
    by_thread[e.startThreadId()].push_back({e.startNs(), e.endNs(), e.name()});
  }
  std::map<std::string, OperatorTime> totals;
  for (auto& [thread, spans] : by_thread) {
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
      return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    std::vector<Span*> open;
    for (auto& s : spans) {
      while (!open.empty() && open.back()->end <= s.start) open.pop_back();
      if (!open.empty()) open.back()->children += s.end - s.start;
      open.push_back(&s);
    }
    for (const auto& s : spans) {
      auto& t = totals[s.name];
      t.name = s.name;
      t.self_ms += double(s.end - s.start - std::min(s.children, s.end - s.start)) / 1e6;
      ++t.calls;
    }
  }
  std::vector<OperatorTime> sorted;
  for (auto& [name, t] : totals) sorted.push_back(t);
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.self_ms > b.self_ms; });
  return sorted;
}

}  // namespace l2w::runtime
