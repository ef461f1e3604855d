#include "l2w/io/state_dict.h"

#include <sstream>

namespace l2w::io {
namespace {

void collect(const torch::nn::Module& module, const std::string& prefix, StateDict& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) out.insert(prefix + p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    if (b.value().defined()) out.insert(prefix + b.key(), b.value());
  }
  for (const auto& child : module.named_children()) collect(*child.value(), prefix + child.key() + ".", out);
}

std::string shape(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

// "n name: a, b, c, ..." with at most a few entries.
std::string listing(const std::string& label, const std::vector<std::string>& items) {
  std::ostringstream s;
  s << items.size() << " " << label << " (";
  for (size_t i = 0; i < items.size() && i < 4; ++i) s << (i ? ", " : "") << items[i];
  if (items.size() > 4) s << ", ...";
  s << ")";
  return s.str();
}

// The key without its "module." components: DataParallel and DistributedDataParallel wrap a network in
// one, IMTA's second stage twice (module.net.module.blocks..., its frozen backbone wrapped inside).
std::string without_wrappers(const std::string& key) {
  std::string out;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('.', start);
    if (end == std::string::npos) end = key.size();
    const auto part = key.substr(start, end - start);
    if (part != "module") out += (out.empty() ? "" : ".") + part;
    start = end + 1;
  }
  return out;
}

}  // namespace

StateDict state_dict(const torch::nn::Module& module) {
  StateDict out;
  collect(module, "", out);
  return out;
}

void load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& what) {
  StateDict own = state_dict(module);
  StateDict given;
  for (const auto& item : state) {
    const auto& key = item.key();
    given.insert(own.contains(key) ? key : without_wrappers(key), item.value());
  }
  std::vector<std::string> missing, unexpected, misshaped;
  for (const auto& item : own) {
    const torch::Tensor* other = given.find(item.key());
    if (other == nullptr) {
      missing.push_back(item.key());
    } else if (!other->sizes().equals(item.value().sizes())) {
      misshaped.push_back(item.key() + " " + shape(*other) + " vs model " + shape(item.value()));
    }
  }
  for (const auto& item : given) {
    if (own.find(item.key()) == nullptr) unexpected.push_back(item.key());
  }
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty()) {
    std::ostringstream msg;
    msg << what << " does not fit this architecture: " << listing("missing keys", missing) << "; "
        << listing("unexpected keys", unexpected) << "; " << listing("mis-shaped", misshaped);
    throw CheckpointError(msg.str());
  }
  torch::NoGradGuard no_grad;
  for (auto& item : own) item.value().copy_(given[item.key()]);
}

}  // namespace l2w::io
