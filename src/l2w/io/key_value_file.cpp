#include "l2w/io/key_value_file.h"

namespace l2w::io {

KeyValueReader::KeyValueReader(const std::string& path, const std::string& what) : path_(path), in_(path) {
  if (!in_) throw std::runtime_error(path + ": no such " + what);
}

bool KeyValueReader::next() {
  while (std::getline(in_, line_)) {
    ++line_no_;
    if (line_.empty() || line_[0] == '#') continue;
    fields_.clear();
    fields_.str(line_);
    key_.clear();
    fields_ >> key_;
    return true;
  }
  return false;
}

std::runtime_error KeyValueReader::error(const std::string& why) const {
  return std::runtime_error(path_ + ":" + std::to_string(line_no_) + ": " + why + ": '" + line_ + "'");
}

void KeyValueReader::expect_version(int version) {
  int v = 0;
  if (!(fields_ >> v) || v != version) throw error("unknown version");
}

criterion::ExitCriterion KeyValueReader::criterion() {
  std::string name;
  fields_ >> name;
  const auto known = criterion::exit_criterion_from_name(name);
  if (known) return *known;
  std::string names;
  for (const auto c : criterion::all_exit_criteria()) names += (names.empty() ? "" : ", ") + criterion::exit_criterion_name(c);
  throw error("exit criterion '" + name + "' is not one this l2w knows (" + names + ")");
}

}  // namespace l2w::io
