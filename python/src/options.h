// Reading a Python call's options (a dict of keyword arguments) into the library's option structs. Each
// default stays on the struct: a key that is absent, or None, keeps it. A key nobody reads is an error,
// so that a misspelt option is never silently ignored.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bindings.h"

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

  py::dict options_;
  std::set<std::string> read_;
};

}  // namespace l2w::python
