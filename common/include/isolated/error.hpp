// The one error hierarchy of isolated. Every error the library throws derives
// from isolated::Error, and its what() says what happened, to which isolate or
// segment, and what the caller can do about it. The library throws no other
// exception type of its own; what escapes it otherwise is the standard
// library's (std::bad_alloc when memory runs out in this process).
//
//   Error
//   ├── UsageError          the calling code used the API wrongly: fix the call
//   ├── SystemError         a system call failed unexpectedly (call name, errno)
//   ├── ResourceExhausted   a limit was reached: /dev/shm full, descriptors,
//   │                       processes, lane slots; retry later or raise it
//   ├── TransportError      shared memory of a peer could not be used (gone,
//   │                       not ours, or not in the expected layout)
//   ├── DecodeError         bytes that are not a well-formed message
//   ├── MessageTypeError    a message read as a type it does not hold
//   ├── NameServerError     the per-user name registry cannot be used
//   ├── IsolateSpawnError   a worker could not be started
//   ├── IsolateExited       an isolate ended before its result
//   ├── RemoteError         an exception thrown in another isolate
//   ├── PortClosed          the port is closed
//   └── TimeoutError        a wait ran out of time
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace isolated {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The API was used in a way it does not allow: an invalid argument (a pool of
// 0 runners, a negative load, a malformed name), or a call in the wrong state
// (init twice, a moved-from handle, a second materialize).
class UsageError : public Error {
 public:
  using Error::Error;
};

// A system call failed for a reason the library does not expect. what() names
// the call; code() is its errno.
class SystemError : public Error {
 public:
  SystemError(const std::string& what, int code) : Error(what), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

// A limit of the machine or of the library was reached: /dev/shm is full
// (ENOSPC), this process has no descriptor left (EMFILE), the user may start
// no more processes (RLIMIT_NPROC), an inbox has no free lane slot. what()
// names the limit and how to raise it.
class ResourceExhausted : public Error {
 public:
  using Error::Error;
};

// Shared memory that a peer made could not be used: it is gone, not a segment
// of this library, of another user, or not in the layout this build reads.
class TransportError : public Error {
 public:
  using Error::Error;
};

// Bytes that are not a well-formed message (truncated or corrupt msgpack, an
// unknown extension, a reference to something the message does not carry).
class DecodeError : public Error {
 public:
  using Error::Error;
};

// The per-user name registry (name_server) cannot be used: its directory is
// not a private one of this user. (A lock held too long by another process is
// a TimeoutError.)
class NameServerError : public Error {
 public:
  using Error::Error;
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
