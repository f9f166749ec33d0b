// The one error hierarchy of isolated. Every error the library throws derives
// from isolated::Error, and its what() says what happened, to which isolate or
// segment, and what the caller can do about it.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace isolated {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An exception thrown inside another isolate, carried back with its type name,
// its what() and the stack trace taken where it was thrown.
class RemoteError : public Error {
 public:
  RemoteError(std::string type_name, std::string message, std::string stack_trace);
  const std::string& type_name() const noexcept { return type_name_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& stack_trace() const noexcept { return stack_trace_; }

 private:
  std::string type_name_;
  std::string message_;
  std::string stack_trace_;
};

// A worker process could not be started, or did not answer its handshake.
class IsolateSpawnError : public Error {
 public:
  using Error::Error;
};

// The isolate ended before it produced the result somebody waited for.
class IsolateExited : public Error {
 public:
  IsolateExited(const std::string& what, std::optional<int> exit_code, std::optional<int> signal,
                std::string crash_report);
  std::optional<int> exit_code() const noexcept { return exit_code_; }
  std::optional<int> signal() const noexcept { return signal_; }
  const std::string& crash_report() const noexcept { return crash_report_; }

 private:
  std::optional<int> exit_code_;
  std::optional<int> signal_;
  std::string crash_report_;
};

// A message was read as a type it does not hold.
class MessageTypeError : public Error {
 public:
  using Error::Error;
};

// The port was closed, so nothing more can be received from it.
class PortClosed : public Error {
 public:
  using Error::Error;
};

// A wait ran out of time.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

}  // namespace isolated
