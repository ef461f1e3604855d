// The line format of l2w's small text files (the thresholds file, the server's budget menu): one
// `key value…` per line, '#' starts a comment, the first key names the format and its version.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "l2w/criterion/exit_criterion.h"

namespace l2w::io {

class KeyValueReader {
 public:
  // `what` names the format in errors ("thresholds file"); std::runtime_error when the file is missing.
  KeyValueReader(const std::string& path, const std::string& what);

  // Moves to the next line that is not blank or a comment; false at the end.
  bool next();
  const std::string& key() const { return key_; }
  std::istringstream& fields() { return fields_; }  // the line's values after its key
  // An error naming the file, the line number and the line.
  std::runtime_error error(const std::string& why) const;
  // The line's version number, which must be `version`.
  void expect_version(int version);
  // The line's exit criterion; an error listing those this l2w knows when it is another.
  criterion::ExitCriterion criterion();

 private:
  std::string path_;
  std::ifstream in_;
  std::string line_, key_;
  std::istringstream fields_;
  int line_no_ = 0;
};

}  // namespace l2w::io
