// Errors of the ledger: a [[nodiscard]] Status, and Result<T> for a value or the Status saying why not
// (in the manner of RocksDB's db.h). Every public ledger function states its contract in these terms.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace ewx::ledger {

class [[nodiscard]] Status {
 public:
  enum class Code { ok, not_found, invalid_argument, corruption, io_error, foreign_data };

  static Status ok() { return Status(); }
  static Status error(Code code, std::string message) { return Status(code, std::move(message)); }

  bool is_ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::ok;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)), status_(Status::ok()) {}
  Result(Status status) : status_(std::move(status)) {}
  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ewx::ledger
