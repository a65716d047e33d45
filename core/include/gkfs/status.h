// Status: the result of every fallible operation in the core and on the wire.
// A Status is an errno value (0 = OK) plus a human-readable message. It owns its
// message; it is a value type and may be copied freely between threads.
#pragma once

#include <string>
#include <utility>

namespace gkfs {

class Status {
 public:
  Status() = default;
  static Status OK() { return Status(); }
  // REQUIRES: code > 0 is an errno value (ENOENT, EIO, ...).
  static Status Error(int code, std::string message) { return Status(code, std::move(message)); }

  bool ok() const { return code_ == 0; }
  int code() const { return code_; }
  const std::string& message() const { return message_; }
  // "OK" or "<strerror>: <message>".
  std::string ToString() const;

 private:
  Status(int code, std::string message) : code_(code), message_(std::move(message)) {}
  int code_ = 0;
  std::string message_;
};

}  // namespace gkfs
