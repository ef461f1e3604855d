#include "option_flags.h"

#include <cctype>
#include <cstdlib>
#include <map>

namespace l2w::cli {
namespace {

std::map<std::string, std::string>& flags_of_options() {
  static std::map<std::string, std::string> flags;
  return flags;
}

CLI::Validator number_check(const std::string& name, bool (*accept)(double), const std::string& wanted) {
  return CLI::Validator(
      [accept, wanted](std::string& text) {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return "'" + text + "' is not a number";
        return accept(v) ? std::string() : "'" + text + "' must be " + wanted;
      },
      name);
}

}  // namespace

const CLI::Validator kPositive = number_check("POSITIVE", [](double v) { return v > 0; }, "positive");
const CLI::Validator kNonNegative = number_check("NON-NEGATIVE", [](double v) { return v >= 0; }, "zero or more");

void register_flag(const std::string& name, const std::string& flag) { flags_of_options().emplace(name, flag); }

std::string flag_of(const std::string& name) {
  const auto& flags = flags_of_options();
  const auto found = flags.find(name);
  return found == flags.end() ? name : found->second;
}

FlagError flag_error(const std::exception& e) {
  if (const auto* option = dynamic_cast<const options::OptionError*>(&e)) return FlagError(flag_of(option->name) + ": " + option->why);
  return FlagError(e.what());
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace l2w::cli
