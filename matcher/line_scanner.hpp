// Reading ewx's line-oriented text formats (DIMACS, topology, batch files) with errors that name the
// file, the line and what was wrong, so a person can fix their input from the message alone.
#pragma once

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ewx {

// A piece of someone's input inside single quotes, fit to be printed in an error message: bytes outside
// printable ASCII are written as \xNN and anything past 48 characters is cut to "...". A message is read
// on a terminal or in a log, and the input it quotes may be a binary file given by mistake or a hostile
// frame; echoing its raw bytes would garble the one and let the other write control sequences.
inline std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 48;
  constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t k = 0; k < text.size() && k < kShown; ++k) {
    const auto c = static_cast<unsigned char>(text[k]);
    if (c >= ' ' && c <= '~' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (text.size() > kShown) out += "...";
  return out + "'";
}

// A malformed input file: what is wrong and on which line (1-based).
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, std::uint64_t line, const std::string& what)
      : std::runtime_error(file + ":" + std::to_string(line) + ": " + what), line_(line) {}
  std::uint64_t line() const { return line_; }

 private:
  std::uint64_t line_;
};

// Splits a text into lines, numbering them from 1; a final line without '\n' counts.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  bool next(std::string_view& line) {
    if (at_ >= text_.size()) return false;
    std::size_t end = text_.find('\n', at_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(at_, end - at_);
    at_ = end + 1;
    ++number_;
    return true;
  }
  std::uint64_t number() const { return number_; }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
  std::uint64_t number_ = 0;
};

// Whitespace-separated words of one line.
class LineScanner {
 public:
  LineScanner(std::string_view line, const std::string& file, std::uint64_t number)
      : rest_(line), file_(file), number_(number) {}

  std::string_view word() {
    skip_blanks();
    std::size_t end = 0;
    while (end < rest_.size() && !is_blank(rest_[end])) ++end;
    const std::string_view w = rest_.substr(0, end);
    rest_.remove_prefix(end);
    return w;
  }

  std::string_view required_word(const char* what) {
    const std::string_view w = word();
    if (w.empty()) fail(std::string("missing ") + what);
    return w;
  }

  // The rest of the line with surrounding blanks removed (free text such as display names).
  std::string_view rest() {
    skip_blanks();
    std::string_view r = rest_;
    while (!r.empty() && is_blank(r.back())) r.remove_suffix(1);
    rest_ = {};
    return r;
  }

  std::int64_t integer(const char* what) {
    const std::string_view w = required_word(what);
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(w.data(), w.data() + w.size(), value);
    if (error == std::errc::result_out_of_range) fail(std::string(what) + " " + quoted(w) + " is out of range");
    if (error != std::errc() || end != w.data() + w.size()) {
      fail(std::string("expected an integer for ") + what + ", found " + quoted(w));
    }
    return value;
  }

  std::int64_t integer_in(const char* what, std::int64_t low, std::int64_t high) {
    const std::int64_t value = integer(what);
    if (value < low || value > high) {
      fail(std::string(what) + " " + std::to_string(value) + " is outside " + std::to_string(low) + ".." +
           std::to_string(high));
    }
    return value;
  }

  void finish() {
    skip_blanks();
    if (!rest_.empty()) fail("unexpected text " + quoted(rest_) + " at the end of the line");
  }

  [[noreturn]] void fail(const std::string& what) const { throw InputError(file_, number_, what); }

 private:
  static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
  void skip_blanks() {
    while (!rest_.empty() && is_blank(rest_.front())) rest_.remove_prefix(1);
  }

  std::string_view rest_;
  const std::string& file_;
  std::uint64_t number_;
};

}  // namespace ewx
