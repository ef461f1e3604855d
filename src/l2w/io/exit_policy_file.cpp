#include "l2w/io/exit_policy_file.h"

#include <filesystem>
#include <fstream>

#include "l2w/runtime/atomic_file.h"
#include "l2w/io/key_value_file.h"

namespace l2w::io {

std::string describe(const ExitPolicy& policy) {
  return criterion::exit_criterion_name(policy.criterion) + (policy.calibrated ? ", calibrated" : "");
}

void write_exit_policy(const std::string& path, const ExitPolicy& policy) {
  runtime::write_file_atomically(path, "l2w-exit-policy 1\ncriterion " + criterion::exit_criterion_name(policy.criterion) +
                                  "\ncalibrated " + (policy.calibrated ? "true" : "false") + "\n");
}

std::optional<ExitPolicy> read_exit_policy(const std::string& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  ExitPolicy policy;
  {
    // Before version 1 the file was the label alone: "max-prob" or "max-prob, calibrated".
    std::ifstream in(path);
    std::string first;
    std::getline(in, first);
    if (first.rfind("l2w-exit-policy", 0) != 0) {
      const auto comma = first.find(',');
      const auto criterion = criterion::exit_criterion_from_name(first.substr(0, comma));
      if (!criterion) throw std::runtime_error(path + ": not an exit policy file");
      policy.criterion = *criterion;
      policy.calibrated = comma != std::string::npos;
      return policy;
    }
  }
  KeyValueReader in(path, "exit policy file");
  while (in.next()) {
    if (in.key() == "l2w-exit-policy") {
      in.expect_version(1);
    } else if (in.key() == "criterion") {
      policy.criterion = in.criterion();
    } else if (in.key() == "calibrated") {
      std::string value;
      in.fields() >> value;
      if (value != "true" && value != "false") throw in.error("calibrated is true or false");
      policy.calibrated = value == "true";
    } else {
      throw in.error("unknown key");
    }
  }
  return policy;
}

}  // namespace l2w::io
