#include "l2w/models/network_options.h"

#include "l2w/models/imta_network.h"

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
  const bool msdnet = options.arch() == Arch::kMSDNet;
  MultiExitNetwork backbone =
      msdnet ? MultiExitNetwork(MSDNet(options.msdnet()).ptr()) : MultiExitNetwork(RANet(options.ranet()).ptr());
  if (!options.imta_heads()) return backbone;
  return ImtaNetwork(backbone, msdnet ? options.msdnet().num_classes() : options.ranet().num_classes()).ptr();
}

namespace {

// The architecture's name in descriptions: the backbone's, IMTA_ before it with second-stage heads.
std::string described_name(const NetworkOptions& options) {
  return (options.imta_heads() ? "IMTA_" : "") + arch_name(options.arch());
}

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
  std::string out = described_name(options);
  for_each_field(options, [&](const char* key, const std::string& value, const std::string&) {
    out.append(" ").append(key).append("=").append(value);
  });
  return out;
}

std::vector<std::string> description_differences(const std::string& stored, const NetworkOptions& options) {
  std::istringstream in(stored);
  std::string name, item;
  in >> name;
  if (name != described_name(options)) return {"architecture: " + name + " there, " + described_name(options) + " here"};
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

void set_field(NetworkOptions& options, const std::string& field, const std::string& value) {
  const bool known = options.arch() == Arch::kMSDNet ? options.msdnet().set_field(field, value)
                                                     : options.ranet().set_field(field, value);
  if (known) return;
  std::string names;
  for (const auto& name : field_names(options.arch())) names += (names.empty() ? "" : ", ") + name;
  throw std::invalid_argument(field + ": not an option of " + arch_name(options.arch()) + " (it takes " + names + ")");
}

std::vector<std::string> field_names(Arch arch) {
  return arch == Arch::kMSDNet ? MSDNetOptions::field_names() : RANetOptions::field_names();
}

NetworkOptions options_from_description(const std::string& description) {
  std::istringstream in(description);
  std::string name, item;
  in >> name;
  NetworkOptions options;
  const std::string imta = "IMTA_";
  if (name.rfind(imta, 0) == 0) {
    options.imta_heads(true);
    name = name.substr(imta.size());
  }
  options.arch(parse_arch(name));
  while (in >> item) {
    const auto equals = item.find('=');
    if (equals == std::string::npos) throw std::invalid_argument("description: '" + item + "' is not key=value");
    set_field(options, item.substr(0, equals), item.substr(equals + 1));
  }
  return options;
}

}  // namespace l2w::models
