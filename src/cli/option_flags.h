// The command line's plumbing over the library's option lists (l2w/runtime/option_list.h): an options
// struct's options as flags, flags of a few words, dash lists, and errors that name an option by its
// flag.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "l2w/runtime/option_list.h"

namespace l2w::cli {

// A bad flag value; the message names the flag.
struct FlagError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Records that the option `name` is given by `flag`; flag_of gives it back (or the name itself when no
// flag was added for it), for errors that name the option.
void register_flag(const std::string& name, const std::string& flag);
std::string flag_of(const std::string& name);

// A library error naming an option (options::OptionError) with the option's flag; any other as it is.
FlagError flag_error(const std::exception& e);

// The options of `list` in `group` as flags setting `target`: spellings, help, the default shown (the
// struct's own), and the option's own parsing and checks.
template <class S>
void add_options(CLI::App& app, S& target, const options::OptionList<S>& list, const std::string& group) {
  for (const auto& o : list) {
    if (o.group != group || o.flags.empty()) continue;
    std::string names;
    for (const auto& flag : o.flags) names += (names.empty() ? "" : ",") + flag;
    register_flag(o.name, o.flags.front());
    if (o.is_switch) {
      app.add_flag_function(names, [&target, set = o.set](int64_t) { set(target, "true"); }, o.help);
      continue;
    }
    app.add_option_function<std::string>(
           names,
           [&target, set = o.set, flag = o.flags.front()](const std::string& text) {
             try {
               set(target, text);
             } catch (const options::OptionError& e) {
               throw CLI::ValidationError(flag, e.why);
             }
           },
           o.help)
        ->type_name(o.type_name)
        ->default_str(o.text(target));
  }
}

// The words a choice flag takes, each with its value.
template <class T>
using Choices = std::vector<std::pair<std::string, T>>;

std::string lower(std::string text);

template <class T>
std::string listed(const Choices<T>& choices) {
  std::string text;
  for (const auto& [word, value] : choices) text += (text.empty() ? "" : "|") + word;
  return text;
}

template <class T>
std::string word_for(const Choices<T>& choices, const T& value) {
  for (const auto& [word, v] : choices)
    if (v == value) return word;
  return "";
}

// A flag whose value is one of `choices`, parsed straight into `target` (a T or an optional<T>).
template <class T, class Target>
CLI::Option* add_choice(CLI::App& app, const std::string& names, Target& target, const Choices<T>& choices,
                        const std::string& help, bool ignore_case = false) {
  auto* option = app.add_option_function<std::string>(
      names,
      [&target, choices, ignore_case, names](const std::string& text) {
        for (const auto& [word, value] : choices) {
          if (text == word || (ignore_case && lower(text) == lower(word))) {
            target = value;
            return;
          }
        }
        throw CLI::ValidationError(names.substr(0, names.find(',')), "'" + text + "' is not one of " + listed(choices));
      },
      help);
  option->type_name(listed(choices));
  return option;
}

// A dash-separated list of positive integers (1-2-4) into `target`.
template <class Target>
CLI::Option* add_factors(CLI::App& app, const std::string& names, Target& target, const std::string& help) {
  const std::string flag = names.substr(0, names.find(','));
  return app
      .add_option_function<std::string>(
          names,
          [&target, flag](const std::string& text) {
            try {
              target = options::parse_dash_list(flag, text);
            } catch (const options::OptionError& e) {
              throw CLI::ValidationError(flag, e.why);
            }
          },
          help)
      ->type_name("N-N-...");
}

// Value checks whose message says what is wanted ("must be positive"), not a range to 1.8e308.
extern const CLI::Validator kPositive;
extern const CLI::Validator kNonNegative;

}  // namespace l2w::cli
