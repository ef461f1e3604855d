// Reading a Python call's options (a dict of keyword arguments) into the library's option structs. Each
// default stays on the struct: a key that is absent, or None, keeps it. A key nobody reads is an error,
// so that a misspelt option is never silently ignored.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bindings.h"
#include "l2w/runtime/option_list.h"

namespace l2w::python {

class OptionReader {
 public:
  explicit OptionReader(py::dict options) : options_(std::move(options)) {}

  // Sets `target` from the option `key` when it is given.
  template <class T>
  void read(const std::string& key, T& target) {
    const auto value = given(key);
    if (!value) return;
    try {
      target = value->template cast<T>();
    } catch (const py::cast_error&) {
      throw std::invalid_argument(key + ": " + py::repr(*value).cast<std::string>() + " is not a value it takes");
    }
  }
  // An option whose value is one of `choices`, named by `name_of`.
  template <class T, class NameOf>
  void read_choice(const std::string& key, T& target, const std::vector<T>& choices, NameOf name_of) {
    const auto value = given(key);
    if (!value) return;
    const auto text = value->template cast<std::string>();
    std::string listed;
    for (const T& c : choices) {
      if (name_of(c) == text) {
        target = c;
        return;
      }
      listed += (listed.empty() ? "" : ", ") + name_of(c);
    }
    throw std::invalid_argument(key + ": '" + text + "' is not one of " + listed);
  }
  // Sets each option of `list` that is given onto `target`, through the option's own parsing and checks
  // (options::OptionError, a ValueError in Python, names it).
  template <class S>
  void read(S& target, const options::OptionList<S>& list) {
    for (const auto& o : list) {
      const auto value = given(o.name);
      if (value) o.set(target, text_of(o.name, *value, o.is_switch));
    }
  }
  // std::invalid_argument naming every option given that was not read.
  void check_all_read() const {
    std::string unknown;
    for (const auto& item : options_) {
      const auto key = item.first.cast<std::string>();
      if (!read_.count(key) && !item.second.is_none()) unknown += (unknown.empty() ? "" : ", ") + key;
    }
    if (unknown.empty()) return;
    // The options this call takes are those read; Python's difflib picks the near misses.
    py::list known;
    for (const auto& key : read_) known.append(key);
    const auto close = py::module_::import("difflib").attr("get_close_matches");
    std::string hints;
    for (const auto& item : options_) {
      const auto key = item.first.cast<std::string>();
      if (read_.count(key) || item.second.is_none()) continue;
      for (const auto& match : close(key, known, 3)) hints += (hints.empty() ? "" : ", ") + match.cast<std::string>();
    }
    std::string all;
    for (const auto& key : read_) all += (all.empty() ? "" : ", ") + key;
    throw std::invalid_argument("unknown option(s): " + unknown + (hints.empty() ? "" : "; did you mean " + hints + "?") +
                                " (options: " + all + ")");
  }

 private:
  std::optional<py::object> given(const std::string& key) {
    read_.insert(key);
    if (!options_.contains(key)) return std::nullopt;
    py::object value = options_[py::str(key)];
    if (value.is_none()) return std::nullopt;
    return value;
  }

  // A Python value as the command line would write it: a bool (for yes/no options only), an int, a float
  // (its shortest exact form), a string, or a list or tuple of them (comma-separated).
  static std::string text_of(const std::string& name, const py::handle& value, bool yes_no) {
    if (py::isinstance<py::bool_>(value)) {
      if (!yes_no) throw options::OptionError(name, py::repr(value).cast<std::string>() + " is not a value it takes");
      return value.cast<bool>() ? "true" : "false";
    }
    if (py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value)) return py::repr(value).cast<std::string>();
    if (py::isinstance<py::str>(value)) return value.cast<std::string>();
    if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
      std::string joined;
      for (const auto& item : value) joined += (joined.empty() ? "" : ",") + text_of(name, item, false);
      return joined;
    }
    throw options::OptionError(name, py::repr(value).cast<std::string>() + " is not a value it takes");
  }

  py::dict options_;
  std::set<std::string> read_;
};

}  // namespace l2w::python
