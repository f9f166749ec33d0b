// ReceivePort, SendPort::send and Isolate::exit on top of the runtime.
#include "runtime.hpp"

#include <isolated/detail/runtime_calls.hpp>
#include <isolated/error.hpp>
#include <isolated/receive_port.hpp>

#include <utility>

namespace isolated {

using detail::Runtime;

ReceivePort::ReceivePort() : id_(Runtime::require().open_port()) {}

ReceivePort::ReceivePort(ReceivePort&& other) noexcept : id_(std::exchange(other.id_, 0)) {}

ReceivePort& ReceivePort::operator=(ReceivePort&& other) noexcept {
  if (this != &other) {
    close();
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

ReceivePort::~ReceivePort() { close(); }

SendPort ReceivePort::send_port() const {
  if (id_ == 0) throw PortClosed("send_port() of a closed ReceivePort");
  return SendPort(Runtime::require().inbox_name(), id_);
}

Message ReceivePort::receive() {
  if (id_ == 0) throw PortClosed("receive() on a closed ReceivePort");
  Message message;
  Runtime::require().take(id_, std::nullopt, message);
  return message;
}

std::optional<Message> ReceivePort::receive_for(std::chrono::milliseconds timeout) {
  if (id_ == 0) throw PortClosed("receive_for() on a closed ReceivePort");
  Message message;
  if (!Runtime::require().take(id_, Runtime::Clock::now() + timeout, message)) return std::nullopt;
  return message;
}

std::optional<Message> ReceivePort::try_receive() {
  if (id_ == 0) throw PortClosed("try_receive() on a closed ReceivePort");
  Message message;
  if (!Runtime::require().take(id_, Runtime::Clock::now(), message)) return std::nullopt;
  return message;
}

Message ReceivePort::first() {
  Message message = receive();
  close();
  return message;
}

void ReceivePort::listen(std::function<void(Message)> handler) {
  if (id_ == 0) throw PortClosed("listen() on a closed ReceivePort");
  Runtime::require().listen(id_, std::move(handler));
}

void ReceivePort::close() {
  if (id_ == 0) return;
  if (Runtime* runtime = Runtime::current()) runtime->close_port(id_);
  id_ = 0;
}

ReceivePort::Messages::iterator& ReceivePort::Messages::iterator::operator++() {
  try {
    current_ = port_->receive();
  } catch (const PortClosed&) {
    port_ = nullptr;
    current_.reset();
  }
  return *this;
}

namespace detail {

bool post_message(const SendPort& port, std::span<const std::byte> encoded) {
  return Runtime::require().post(port, encoded, FrameKind::message);
}

void post_control(const SendPort& control_port, std::span<const std::byte> encoded) {
  Runtime::require().post(control_port, encoded, FrameKind::control);
}

void exit_isolate(const SendPort& port, std::span<const std::byte> encoded) {
  Runtime& runtime = Runtime::require();
  if (runtime.post(port, encoded, FrameKind::message) &&
      port.inbox_name() != runtime.inbox_name()) {
    // Isolate::exit guarantees delivery: the receiver has taken it.
    runtime.outbox().wait_drained(port.inbox_name());
  }
  runtime.exit_process(0);
}

std::vector<std::byte>& encode_buffer() {
  thread_local std::vector<std::byte> buffer;
  return buffer;
}

}  // namespace detail
}  // namespace isolated
