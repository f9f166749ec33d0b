// Isolate's control methods: each sends one command to the isolate's control
// port (control.cpp decodes them there).
#include "runtime.hpp"
#include "transport/doorbell.hpp"

#include <isolated/error.hpp>
#include <isolated/isolate.hpp>

#include <tuple>

namespace isolated {

namespace {

template <class... T>
void send_command(const SendPort& control_port, const T&... parts) {
  std::vector<std::byte> bytes;
  detail::encode(std::tuple<const T&...>(parts...), bytes);
  detail::post_control(control_port, bytes);
}

const Capability& required(const std::optional<Capability>& capability, const char* what) {
  if (!capability) {
    throw Error(std::string("this Isolate handle has no ") + what +
                " capability, so the isolate would ignore the command");
  }
  return *capability;
}

int command(Isolate::Command c) { return static_cast<int>(c); }

}  // namespace

Isolate::Isolate(SendPort control_port, std::optional<Capability> pause,
                 std::optional<Capability> terminate)
    : control_port_(std::move(control_port)), pause_(pause), terminate_(terminate) {}

Isolate Isolate::current() { return detail::Runtime::require().current_isolate(); }

Capability Isolate::pause() const { return pause(Capability()); }

Capability Isolate::pause(const Capability& resume_capability) const {
  send_command(control_port_, command(Command::pause), required(pause_, "pause"),
               resume_capability);
  return resume_capability;
}

void Isolate::resume(const Capability& resume_capability) const {
  send_command(control_port_, command(Command::resume), required(pause_, "pause"),
               resume_capability);
}

void Isolate::kill(Priority priority) const {
  send_command(control_port_, command(Command::kill), required(terminate_, "terminate"),
               priority == Priority::immediate);
}

void Isolate::send_control_with_response(Command c, const SendPort& port,
                                         const std::vector<std::byte>& response,
                                         bool immediate) const {
  const Message decoded = Message::decode(response);
  if (c == Command::ping) {
    send_command(control_port_, command(c), port, decoded, immediate);
  } else {
    send_command(control_port_, command(c), port, decoded);
  }
}

void Isolate::add_on_exit_listener(const SendPort& port) const {
  add_on_exit_listener(port, nullptr);
}

void Isolate::remove_on_exit_listener(const SendPort& port) const {
  send_command(control_port_, command(Command::remove_on_exit_listener), port);
}

void Isolate::add_error_listener(const SendPort& port) const {
  send_command(control_port_, command(Command::add_error_listener), port);
}

void Isolate::remove_error_listener(const SendPort& port) const {
  send_command(control_port_, command(Command::remove_error_listener), port);
}

void Isolate::set_errors_fatal(bool fatal) const {
  send_command(control_port_, command(Command::set_errors_fatal), required(terminate_, "terminate"),
               fatal);
}

namespace {

// The isolate's doorbell, if its inbox still exists. Read only: the owner may
// be anyone, so nothing here is trusted beyond its bounds.
std::optional<detail::MappedDoorbell> doorbell_of(const SendPort& control_port) {
  try {
    return detail::open_doorbell(control_port.inbox_name());
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool alive(const detail::DoorbellHeader& header) {
  return header.state.load() != static_cast<std::uint32_t>(detail::InboxState::dead);
}

}  // namespace

std::string Isolate::debug_name() const {
  const auto doorbell = doorbell_of(control_port_);
  if (!doorbell) return "";
  const auto& header = *doorbell->header;
  if (!alive(header)) return "";
  const std::size_t length = std::min<std::size_t>(header.debug_name_length, detail::kMaxDebugNameBytes);
  return std::string(header.debug_name, length);
}

int Isolate::pid() const {
  const auto doorbell = doorbell_of(control_port_);
  if (!doorbell) return 0;
  return alive(*doorbell->header) ? doorbell->header->owner_pid : 0;
}

}  // namespace isolated
