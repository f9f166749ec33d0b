// Isolate's control methods: each sends one command to the isolate's control
// port (control.cpp decodes them there).
#include "runtime.hpp"
#include "common/src/transport/doorbell.hpp"

#include <isolated/error.hpp>
#include <isolated/isolate.hpp>

#include <mutex>
#include <tuple>

namespace isolated {

namespace detail {

struct IsolateFacts {
  std::mutex mutex;
  int pid = 0;  // 0: not known
  std::string debug_name;
};

Isolate known_isolate(SendPort control_port, Capability pause, Capability terminate, int pid,
                      std::string debug_name) {
  Isolate isolate(std::move(control_port), pause, terminate);
  isolate.facts_->pid = pid;
  isolate.facts_->debug_name = std::move(debug_name);
  return isolate;
}

}  // namespace detail

namespace {

template <class... T>
void send_command(const SendPort& control_port, const T&... parts) {
  std::vector<std::byte> bytes;
  detail::encode(std::tuple<const T&...>(parts...), bytes);
  detail::post_control(control_port, bytes);
}

const Capability& required(const std::optional<Capability>& capability, const char* what) {
  if (!capability) {
    throw UsageError(std::string("this Isolate handle has no ") + what +
                " capability, so the isolate would ignore the command");
  }
  return *capability;
}

int command(Isolate::Command c) { return static_cast<int>(c); }

}  // namespace

Isolate::Isolate(SendPort control_port, std::optional<Capability> pause,
                 std::optional<Capability> terminate)
    : control_port_(std::move(control_port)),
      pause_(pause),
      terminate_(terminate),
      facts_(std::make_shared<detail::IsolateFacts>()) {}

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

std::pair<int, std::string> Isolate::known_facts() const {
  detail::IsolateFacts& facts = *facts_;
  std::lock_guard lock(facts.mutex);
  if (facts.pid == 0) {
    const auto doorbell = doorbell_of(control_port_);
    if (doorbell && alive(*doorbell->header)) {
      const auto& header = *doorbell->header;
      const std::size_t length =
          std::min<std::size_t>(header.debug_name_length, detail::kMaxDebugNameBytes);
      facts.debug_name.assign(header.debug_name, length);
      facts.pid = header.owner_pid;
    }
  }
  return {facts.pid, facts.debug_name};
}

std::string Isolate::debug_name() const { return known_facts().second; }

int Isolate::pid() const { return known_facts().first; }

}  // namespace isolated
