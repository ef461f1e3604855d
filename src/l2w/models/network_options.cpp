#include "l2w/models/network_options.h"

#include <cctype>
#include <map>
#include <sstream>
#include <stdexcept>

namespace l2w::models {

std::string arch_name(Arch arch) { return arch == Arch::kMSDNet ? "msdnet" : "RANet"; }

Arch parse_arch(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "msdnet") return Arch::kMSDNet;
  if (lower == "ranet") return Arch::kRANet;
  throw std::invalid_argument("unknown architecture '" + name + "' (expected msdnet or RANet)");
}

MultiExitNetwork make_network(const NetworkOptions& options) {
  if (options.arch() == Arch::kMSDNet) return MSDNet(options.msdnet()).ptr();
  return RANet(options.ranet()).ptr();
}

namespace {

// Every field of the chosen backbone's options: visit(key, value text, default text).
template <class Visit>
void for_each_field(const NetworkOptions& options, Visit&& visit) {
  if (options.arch() == Arch::kMSDNet)
    options.msdnet().for_each_field(visit);
  else
    options.ranet().for_each_field(visit);
}

}  // namespace

std::string describe(const NetworkOptions& options) {
  std::string out = arch_name(options.arch());
  for_each_field(options, [&](const char* key, const std::string& value, const std::string&) {
    out.append(" ").append(key).append("=").append(value);
  });
  return out;
}

std::vector<std::string> description_differences(const std::string& stored, const NetworkOptions& options) {
  std::istringstream in(stored);
  std::string name, item;
  in >> name;
  if (name != arch_name(options.arch())) return {"architecture: " + name + " there, " + arch_name(options.arch()) + " here"};
  std::map<std::string, std::string> there;
  while (in >> item) {
    const auto equals = item.find('=');
    if (equals != std::string::npos) there[item.substr(0, equals)] = item.substr(equals + 1);
  }
  std::vector<std::string> differences;
  for_each_field(options, [&](const char* key, const std::string& value, const std::string& fallback) {
    const auto found = there.find(key);
    const std::string& stored_value = found == there.end() ? fallback : found->second;
    if (stored_value != value) differences.push_back(std::string(key) + ": " + stored_value + " there, " + value + " here");
    if (found != there.end()) there.erase(found);
  });
  for (const auto& [key, value] : there) differences.push_back(key + ": " + value + " there, not a field here");
  return differences;
}

}  // namespace l2w::models
