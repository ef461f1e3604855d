// Architecture options whose fields are listed once: type, name, default, the key a description uses and
// how a value is written. The list makes both the struct's TORCH_ARG members and its for_each_field(),
// from which describe() and the checkpoint compatibility check are built (network_options.h), so a field
// added to the struct cannot be left out of the check.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include <torch/arg.h>

namespace l2w::models {

inline std::string field_text(int64_t v) { return std::to_string(v); }
inline std::string field_text(bool v) { return v ? "true" : "false"; }
inline std::string field_text(double v) {
  std::ostringstream out;  // six significant digits, as checkpoints have always written them
  out << v;
  return out.str();
}
inline std::string field_text(const std::vector<int64_t>& v) {  // 1-2-4
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s.append(i ? "-" : "").append(std::to_string(v[i]));
  return s;
}
inline std::string stem_text(bool imagenet) { return imagenet ? "imagenet" : "small"; }

}  // namespace l2w::models

#define L2W_OPTION_MEMBER(type, name, default_value, key, text) TORCH_ARG(type, name) = default_value;
#define L2W_OPTION_VISIT(type, name, default_value, key, text) visit(key, text(name()), text(type(default_value)));

// Declares the members of FIELDS and for_each_field(visit), which calls visit(key, value text, default
// text) for each field in order.
#define L2W_OPTION_FIELDS(FIELDS)                    \
  FIELDS(L2W_OPTION_MEMBER)                          \
 public:                                             \
  template <class Visit>                             \
  void for_each_field(Visit&& visit) const {         \
    FIELDS(L2W_OPTION_VISIT)                         \
  }
