#include "l2w/runtime/option_list.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace l2w::options {

OptionError::OptionError(const std::string& n, const std::string& w)
    : std::invalid_argument(n + ": " + w), name(n), why(w) {}

std::string check_text(Check check) {
  switch (check) {
    case Check::kPositive: return "positive";
    case Check::kNonNegative: return "zero or more";
    case Check::kUnitInterval: return "0 to 1";
    case Check::kOpenUnitInterval: return "between 0 and 1, both excluded";
    case Check::kAny: break;
  }
  return "";
}

namespace {

void check_value(const std::string& name, const std::string& text, double v, Check check) {
  if (!passes(v, check)) throw OptionError(name, "'" + text + "' must be " + check_text(check));
}

}  // namespace

bool passes(double v, Check check) {
  return check == Check::kAny || (check == Check::kPositive && v > 0) || (check == Check::kNonNegative && v >= 0) ||
         (check == Check::kUnitInterval && v >= 0 && v <= 1) || (check == Check::kOpenUnitInterval && v > 0 && v < 1);
}

int64_t parse_integer(const std::string& name, const std::string& text, Check check) {
  int64_t v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    throw OptionError(name, "'" + text + "' is not a value it takes (an integer)");
  check_value(name, text, static_cast<double>(v), check);
  return v;
}

double parse_number(const std::string& name, const std::string& text, Check check) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || std::isnan(v))
    throw OptionError(name, "'" + text + "' is not a value it takes (a number)");
  check_value(name, text, v, check);
  return v;
}

bool parse_bool(const std::string& name, const std::string& text) {
  for (const char* yes : {"true", "True", "1"})
    if (text == yes) return true;
  for (const char* no : {"false", "False", "0"})
    if (text == no) return false;
  throw OptionError(name, "'" + text + "' is not one of true|false");
}

std::vector<double> parse_number_list(const std::string& name, const std::string& text, Check check) {
  std::vector<double> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) out.push_back(parse_number(name, part, check));
  if (out.empty()) throw OptionError(name, "an empty list");
  return out;
}

std::vector<int64_t> parse_dash_list(const std::string& name, const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, '-');) {
    int64_t v = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || error != std::errc() || end != part.data() + part.size() || v < 1)
      throw OptionError(name, "'" + text + "' is not a dash-separated list of positive integers (e.g. 1-2-4)");
    out.push_back(v);
  }
  if (out.empty()) throw OptionError(name, "an empty list");
  return out;
}

std::string number_text(double v) {
  for (int digits = 6; digits <= 17; ++digits) {
    char text[40];
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v) return text;
  }
  return std::to_string(v);
}

std::string number_list_text(const std::vector<double>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s.append(i ? "," : "").append(number_text(v[i]));
  return s;
}

}  // namespace l2w::options
