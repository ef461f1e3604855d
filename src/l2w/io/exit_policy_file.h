// The run folder's exit_policy.txt: how eval's budgeted evaluation decided exits (its exit criterion,
// and whether each exit's temperature was calibrated), so that a chart or comparison of the run can say
// what its curve means.
#pragma once

#include <optional>
#include <string>

#include "l2w/criterion/exit_criterion.h"

namespace l2w::io {

struct ExitPolicy {
  criterion::ExitCriterion criterion = criterion::ExitCriterion::kMaxProb;
  bool calibrated = false;
};

// "max-prob", or "entropy, calibrated": the policy in a label.
std::string describe(const ExitPolicy& policy);

void write_exit_policy(const std::string& path, const ExitPolicy& policy);
// None when the file does not exist; std::runtime_error naming the file and line when it is damaged.
// Files of earlier versions (one line: the label) are read too.
std::optional<ExitPolicy> read_exit_policy(const std::string& path);

}  // namespace l2w::io
