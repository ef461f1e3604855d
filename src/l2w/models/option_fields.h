// Architecture options whose fields are listed once: type, name, default, the key a description uses and
// how a value is written. The list makes both the struct's TORCH_ARG members and its for_each_field(),
// from which describe() and the checkpoint compatibility check are built (network_options.h), so a field
// added to the struct cannot be left out of the check.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <torch/arg.h>

#include "l2w/runtime/option_list.h"

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

// The values a field of a few values can take; an enum field's header declares its own.
inline std::vector<bool> field_choices(bool) { return {true, false}; }

// A field's value from its text (what `text` writes, for a field of a few values); false when the text
// is not one.
template <class T, class Text>
bool parse_field(const std::string& s, T& out, Text text) {
  std::istringstream in(s);
  if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
    T v;
    if (!(in >> v) || !in.eof()) return false;
    out = v;
    return true;
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    try {
      out = options::parse_dash_list("", s);
      return true;
    } catch (const options::OptionError&) {
      return false;
    }
  } else {
    for (const T& choice : field_choices(T{}))
      if (text(choice) == s) {
        out = choice;
        return true;
      }
    if constexpr (std::is_same_v<T, bool>) {  // a yes/no field written as words (stem): true and false too
      if (s == "true" || s == "false") {
        out = s == "true";
        return true;
      }
    }
    return false;
  }
}

// What a field takes, for an error message: its choices, or the kind of value.
template <class T, class Text>
std::string field_values_hint(Text text) {
  if constexpr (std::is_same_v<T, int64_t>) {
    return "an integer";
  } else if constexpr (std::is_same_v<T, double>) {
    return "a number";
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    return "integers joined by dashes, such as 1-2-4";
  } else {
    std::string out = "one of ";
    bool first = true;
    for (const T& choice : field_choices(T{})) out += (first ? "" : ", ") + text(choice), first = false;
    return out;
  }
}

}  // namespace l2w::models

#define L2W_OPTION_MEMBER(type, name, default_value, key, text) TORCH_ARG(type, name) = default_value;
#define L2W_OPTION_VISIT(type, name, default_value, key, text) visit(key, text(name()), text(type(default_value)));
#define L2W_OPTION_NAME(type, name, default_value, key, text) \
  names.push_back(key);                                       \
  if (std::string(key) != #name) names.push_back(#name);
#define L2W_OPTION_ASSIGN(type, name, default_value, key, text)                                       \
  if (field == key || field == #name) {                                                              \
    type v = name();                                                                                 \
    if (!::l2w::models::parse_field(value, v, [](const type& x) { return text(x); }))                \
      throw std::invalid_argument(std::string(#name) + ": '" + value + "' is not a value it takes (" + \
                                  ::l2w::models::field_values_hint<type>([](const type& x) { return text(x); }) + \
                                  ")");                                                              \
    name(v);                                                                                         \
    return true;                                                                                     \
  }

// Declares the members of FIELDS, for_each_field(visit), which calls visit(key, value text, default
// text) for each field in order, and set_field(field, text), which sets the field named by its key or
// its member name from text as a description writes it (false for no such field; std::invalid_argument
// naming the field for a value it does not take).
#define L2W_OPTION_FIELDS(FIELDS)                                         \
  FIELDS(L2W_OPTION_MEMBER)                                               \
 public:                                                                  \
  template <class Visit>                                                  \
  void for_each_field(Visit&& visit) const {                              \
    FIELDS(L2W_OPTION_VISIT)                                              \
  }                                                                       \
  bool set_field(const std::string& field, const std::string& value) {    \
    FIELDS(L2W_OPTION_ASSIGN)                                             \
    return false;                                                         \
  }                                                                       \
  static std::vector<std::string> field_names() {                         \
    std::vector<std::string> names;                                       \
    FIELDS(L2W_OPTION_NAME)                                               \
    return names;                                                         \
  }
