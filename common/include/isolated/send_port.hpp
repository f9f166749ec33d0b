// SendPort: the address of a ReceivePort, which can itself be sent in messages
// (DESIGN §3, §4). It names the inbox of the isolate that owns the port and the
// port's number in that isolate. For now it is a plain value; send() is added
// by the runtime layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace isolated {

class SendPort {
 public:
  // The longest inbox name a SendPort can carry (NAME_MAX of a POSIX shared
  // memory name); the codec relies on it to bound what it accepts.
  static constexpr std::size_t kMaxInboxNameBytes = 255;

  // An invalid port that addresses nothing: valid() is false.
  SendPort() = default;

  // Port `port_id` of the isolate whose inbox is `inbox_name`. An empty name
  // makes an invalid port. Throws isolated::Error if the name is longer than
  // kMaxInboxNameBytes or contains a NUL byte, since no inbox has such a name.
  SendPort(std::string inbox_name, std::uint64_t port_id);

  bool valid() const noexcept { return !inbox_name_.empty(); }
  const std::string& inbox_name() const noexcept { return inbox_name_; }
  std::uint64_t port_id() const noexcept { return port_id_; }

  // Sends `message` to the port. It never blocks for long: only while the
  // receiver's lane is full and the receiver lives. Returns false when the
  // port is known to be gone (closed in this process, or its isolate ended);
  // a message to a port that is gone is dropped, as in Dart. Defined with the
  // isolate runtime, in <isolated/isolated.hpp>.
  template <class T>
  bool send(T&& message) const;

  friend bool operator==(const SendPort&, const SendPort&) = default;

 private:
  std::string inbox_name_;
  std::uint64_t port_id_ = 0;
};

}  // namespace isolated

template <>
struct std::hash<isolated::SendPort> {
  std::size_t operator()(const isolated::SendPort& port) const noexcept;
};
