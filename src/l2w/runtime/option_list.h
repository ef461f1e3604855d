// Options declared once. Each options struct lists its fields in one place (option_list() beside the
// struct): the name (Python's keyword, and what errors name), the command line's spellings (the
// reference's first), the help line, the kind of value with its checks or words, and how the field is
// read and set. From that list come the command's flags and --help (src/cli), Python's keyword readers
// and their docstrings (python/src), and errors that name the option in each front end's spelling.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace l2w::options {

// A value an option does not take, or options that do not fit together, naming the option. Each front
// end spells the name its own way: `l2w` as its flag (--lr), Python as its keyword (lr).
struct OptionError : std::invalid_argument {
  OptionError(const std::string& name, const std::string& why);
  std::string name, why;
};

// What a number must be.
enum class Check { kAny, kPositive, kNonNegative, kUnitInterval /* [0, 1] */, kOpenUnitInterval /* (0, 1) */ };

template <class S>
struct Option {
  std::string name;                // Python's keyword; what errors name
  std::vector<std::string> flags;  // the command line's spellings ("--lr", "--learning-rate"); none: Python only
  std::string help;
  std::string type_name;           // for --help and docstrings: N, X, TEXT, a|b, N-N-...
  std::string group;               // the command line's flag group (the commands that take it)
  bool is_switch = false;          // a flag without a value (true when given)
  std::function<std::string(const S&)> text;          // the value as the command line writes it
  std::function<void(S&, const std::string&)> set;    // from that text; OptionError when it is not a value
  std::vector<std::string> words;  // the values it takes, when a few words

  Option&& in(std::string flag_group) && {
    group = std::move(flag_group);
    return std::move(*this);
  }
};

template <class S>
using OptionList = std::vector<Option<S>>;

namespace detail {
template <class S>
Option<S> named_option(std::string name, std::vector<std::string> flags, std::string help) {
  Option<S> o;
  o.name = std::move(name);
  o.flags = std::move(flags);
  o.help = std::move(help);
  return o;
}
}  // namespace detail

// The parsing and checks behind the builders.
int64_t parse_integer(const std::string& name, const std::string& text, Check check);
double parse_number(const std::string& name, const std::string& text, Check check);
bool parse_bool(const std::string& name, const std::string& text);
// Numbers separated by commas (0.25,0.5), each checked; an empty list is refused.
std::vector<double> parse_number_list(const std::string& name, const std::string& text, Check check = Check::kAny);
// Positive integers separated by dashes (1-2-4), as the architecture's factors are written.
std::vector<int64_t> parse_dash_list(const std::string& name, const std::string& text);
std::string number_text(double v);  // as short as it reads back exactly
std::string number_list_text(const std::vector<double>& v);
std::string check_text(Check check);  // "positive", ... for help
bool passes(double value, Check check);

namespace detail {
template <class S, class Field>
using FieldType = std::remove_cv_t<std::remove_reference_t<std::invoke_result_t<Field, S&>>>;
template <class S, class Field>
auto& get(const S& s, const Field& field) {
  return field(const_cast<S&>(s));
}
}  // namespace detail

// A number (int64_t, int or double) or a text field. `field` is a callable giving the field of an S
// by reference, such as [](auto& o) -> auto& { return o.lr(); } (L2W_FIELD(lr)).
template <class S, class Field>
Option<S> value(std::string name, std::vector<std::string> flags, Field field, std::string help,
                Check check = Check::kAny) {
  using T = detail::FieldType<S, Field>;
  Option<S> o = detail::named_option<S>(std::move(name), std::move(flags), std::move(help));
  // A default the option itself refuses (0 for "none" where a value must be positive) is "not given":
  // no text.
  o.text = [field, check](const S& s) -> std::string {
    const auto& v = detail::get(s, field);
    if constexpr (std::is_same_v<T, std::string>) {
      static_cast<void>(check);
      return v;
    } else {
      if (!passes(static_cast<double>(v), check)) return "";
      if constexpr (std::is_floating_point_v<T>) return number_text(v);
      return std::to_string(v);
    }
  };
  o.set = [field, check, n = o.name](S& s, const std::string& t) {
    static_cast<void>(check), static_cast<void>(n);  // a text field has neither
    if constexpr (std::is_same_v<T, std::string>) {
      field(s) = t;
    } else if constexpr (std::is_floating_point_v<T>) {
      field(s) = static_cast<T>(parse_number(n, t, check));
    } else {
      field(s) = static_cast<T>(parse_integer(n, t, check));
    }
  };
  o.type_name = std::is_same_v<T, std::string> ? "TEXT" : std::is_floating_point_v<T> ? "X" : "N";
  if (check != Check::kAny) o.type_name += " (" + check_text(check) + ")";
  return o;
}

// A yes/no field given as a flag without a value (from Python: True or False).
template <class S, class Field>
Option<S> switch_option(std::string name, std::vector<std::string> flags, Field field, std::string help) {
  Option<S> o = detail::named_option<S>(std::move(name), std::move(flags), std::move(help));
  o.is_switch = true;
  o.type_name = "true|false";
  o.words = {"true", "false"};
  o.text = [field](const S& s) { return std::string(detail::get(s, field) ? "true" : "false"); };
  o.set = [field, n = o.name](S& s, const std::string& t) { field(s) = parse_bool(n, t); };
  return o;
}

// A field of a few values, each named by a word.
template <class S, class Field, class T = detail::FieldType<S, Field>>
Option<S> choice(std::string name, std::vector<std::string> flags, Field field,
                 std::vector<std::pair<std::string, T>> choices, std::string help) {
  Option<S> o = detail::named_option<S>(std::move(name), std::move(flags), std::move(help));
  for (const auto& c : choices) {
    o.words.push_back(c.first);
    o.type_name += (o.type_name.empty() ? "" : "|") + c.first;
  }
  o.text = [field, choices](const S& s) {
    for (const auto& c : choices)
      if (c.second == detail::get(s, field)) return c.first;
    return std::string();
  };
  o.set = [field, choices, n = o.name](S& s, const std::string& t) {
    std::string listed;
    for (const auto& c : choices) {
      if (c.first == t) {
        field(s) = c.second;
        return;
      }
      listed += (listed.empty() ? "" : ", ") + c.first;
    }
    throw OptionError(n, "'" + t + "' is not one of " + listed);
  };
  return o;
}

// The words of `values`, named by `name_of` (the library's own names, written once).
template <class T, class NameOf>
std::vector<std::pair<std::string, T>> named(std::initializer_list<T> values, NameOf name_of) {
  std::vector<std::pair<std::string, T>> out;
  for (const T& v : values) out.emplace_back(name_of(v), v);
  return out;
}

// Numbers separated by commas (150,225); from Python, a list.
template <class S, class Field>
Option<S> number_list(std::string name, std::vector<std::string> flags, Field field, std::string help) {
  Option<S> o = detail::named_option<S>(std::move(name), std::move(flags), std::move(help));
  o.type_name = "X,X,...";
  o.text = [field](const S& s) { return number_list_text(detail::get(s, field)); };
  o.set = [field, n = o.name](S& s, const std::string& t) { field(s) = parse_number_list(n, t); };
  return o;
}

// A field set through a conversion: `to_text` and `from_text` (which throws OptionError naming `name`).
template <class S, class ToText, class FromText>
Option<S> converted(std::string name, std::vector<std::string> flags, std::string type_name, ToText to_text,
                    FromText from_text, std::string help) {
  Option<S> o = detail::named_option<S>(std::move(name), std::move(flags), std::move(help));
  o.type_name = std::move(type_name);
  o.text = to_text;
  o.set = from_text;
  return o;
}

// The options of a struct held inside S (its SGD options inside the trainer's), reached by `part`.
template <class S, class Inner, class Part>
OptionList<S> nested(const OptionList<Inner>& inner, Part part) {
  OptionList<S> out;
  for (const auto& i : inner) {
    Option<S> o = detail::named_option<S>(i.name, i.flags, i.help);
    o.type_name = i.type_name, o.group = i.group, o.is_switch = i.is_switch, o.words = i.words;
    o.text = [part, text = i.text](const S& s) { return text(detail::get(s, part)); };
    o.set = [part, set = i.set](S& s, const std::string& t) { set(part(s), t); };
    out.push_back(std::move(o));
  }
  return out;
}

template <class S>
OptionList<S> joined(std::initializer_list<OptionList<S>> lists) {
  OptionList<S> out;
  for (const auto& l : lists) out.insert(out.end(), l.begin(), l.end());
  return out;
}

// The option named `name`, or null.
template <class S>
const Option<S>* find(const OptionList<S>& list, const std::string& name) {
  for (const auto& o : list)
    if (o.name == name) return &o;
  return nullptr;
}

}  // namespace l2w::options

// The field `member` of an options struct, by reference: TORCH_ARG's accessor, or a plain member.
#define L2W_FIELD(member) [](auto& o) -> auto& { return o.member(); }
#define L2W_MEMBER(member) [](auto& o) -> auto& { return o.member; }
