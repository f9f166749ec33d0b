// The control plane inside an isolate (DESIGN §5): commands that arrive on
// the control port, handled by whichever thread drains, before any queued
// message and also while the isolate's own code is busy.
#include "runtime.hpp"
#include "supervisor_protocol.hpp"
#include "common/src/shm/names.hpp"

#include <isolated/error.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <tuple>
#include <utility>

namespace isolated::detail {
void Runtime::apply_control(const Message& command) {
  using Command = Isolate::Command;
  try {
    const auto parts = command.as<std::vector<Message>>();
    if (parts.empty()) return;
    const auto kind = static_cast<Command>(parts.at(0).as<int>());
    std::unique_lock lock(mutex_);
    switch (kind) {
      case Command::kill: {
        const auto [_, capability, immediate] = command.as<std::tuple<int, Capability, bool>>();
        if (!(capability == config_.terminate_capability)) return;  // forged: ignored
        if (immediate) {
          lock.unlock();
          exit_process(0);
        }
        kill_requested_ = true;
        break;
      }
      case Command::pause: {
        const auto [_, capability, token] = command.as<std::tuple<int, Capability, Capability>>();
        if (!(capability == config_.pause_capability)) return;
        pause_tokens_.insert(token.bytes());
        break;
      }
      case Command::resume: {
        const auto [_, capability, token] = command.as<std::tuple<int, Capability, Capability>>();
        if (!(capability == config_.pause_capability)) return;
        pause_tokens_.erase(token.bytes());
        break;
      }
      case Command::ping: {
        auto [_, port, response, immediate] =
            command.as<std::tuple<int, SendPort, Message, bool>>();
        if (immediate) {
          lock.unlock();
          post(port, response.bytes(), FrameKind::message);
          return;
        }
        events_.push_back(Event{0, std::move(response), port});
        break;
      }
      case Command::add_on_exit_listener: {
        auto [_, port, response] = command.as<std::tuple<int, SendPort, Message>>();
        std::erase_if(exit_listeners_, [&](const auto& l) { return l.first == port; });
        exit_listeners_.emplace_back(port, response);
        lock.unlock();
        forward_to_parent(command);
        return;
      }
      case Command::remove_on_exit_listener: {
        const auto [_, port] = command.as<std::tuple<int, SendPort>>();
        std::erase_if(exit_listeners_, [&](const auto& l) { return l.first == port; });
        lock.unlock();
        forward_to_parent(command);
        return;
      }
      case Command::add_error_listener: {
        const auto [_, port] = command.as<std::tuple<int, SendPort>>();
        if (std::find(error_listeners_.begin(), error_listeners_.end(), port) ==
            error_listeners_.end()) {
          error_listeners_.push_back(port);
        }
        lock.unlock();
        forward_to_parent(command);
        return;
      }
      case Command::remove_error_listener: {
        const auto [_, port] = command.as<std::tuple<int, SendPort>>();
        std::erase(error_listeners_, port);
        lock.unlock();
        forward_to_parent(command);
        return;
      }
      case Command::set_errors_fatal: {
        const auto [_, capability, fatal] = command.as<std::tuple<int, Capability, bool>>();
        if (!(capability == config_.terminate_capability)) return;
        errors_fatal_ = fatal;
        break;
      }
      default: return;  // unknown commands are ignored, like forged ones
    }
    notify_waiters();
  } catch (const Error& e) {
    std::fprintf(stderr, "isolated: ignored a malformed control command %s: %s\n",
                 command.to_string().c_str(), e.what());
  }
}

// Listener changes are mirrored to the parent, which fires them if this
// process dies without a word (DESIGN §5: exit listeners fire on a crash too).
void Runtime::forward_to_parent(const Message& command) {
  if (!config_.parent_supervisor) return;
  using Command = Isolate::Command;
  const auto parts = command.as<std::vector<Message>>();
  Report report;
  switch (static_cast<Command>(parts.at(0).as<int>())) {
    case Command::add_on_exit_listener: report = Report::add_exit_listener; break;
    case Command::remove_on_exit_listener: report = Report::remove_exit_listener; break;
    case Command::add_error_listener: report = Report::add_error_listener; break;
    case Command::remove_error_listener: report = Report::remove_error_listener; break;
    default: return;
  }
  // The report is the command with our pid in front of its arguments: a
  // port, and for an exit listener its response.
  const int kind = static_cast<int>(report);
  const int pid = static_cast<int>(::getpid());
  std::vector<std::byte> bytes;
  if (parts.size() > 2) {
    encode(std::tuple<int, int, const Message&, const Message&>(kind, pid, parts[1], parts[2]),
           bytes);
  } else {
    encode(std::tuple<int, int, const Message&>(kind, pid, parts.at(1)), bytes);
  }
  post(*config_.parent_supervisor, bytes, FrameKind::message);
}

void Runtime::set_before_exit(std::function<void()> step) {
  std::lock_guard lock(mutex_);
  before_exit_ = std::move(step);
}

void Runtime::exit_process(int code) {
  // Once per process: a second thread here (the entry returned while a kill
  // arrived) waits for the first one's _exit rather than race it, which could
  // end the process while the first is half-way through opening a lane.
  static std::atomic<bool> exiting{false};
  if (exiting.exchange(true)) {
    for (;;) ::pause();
  }
  std::function<void()> before_exit;
  {
    std::lock_guard lock(mutex_);
    before_exit = std::exchange(before_exit_, nullptr);
  }
  if (before_exit) before_exit();
  if (config_.parent_supervisor) {
    // Say goodbye, and make sure the parent took it before the process ends,
    // so it can tell this clean exit from a crash.
    std::vector<std::byte> bytes;
    encode(std::tuple<int, int, bool>(static_cast<int>(Report::goodbye),
                                      static_cast<int>(::getpid()), code != 0),
           bytes);
    if (post(*config_.parent_supervisor, bytes, FrameKind::message)) {
      outbox_.wait_drained(config_.parent_supervisor->inbox_name());
    }
  }
  // No other thread is left half-way through creating a lane segment.
  outbox_.freeze_for_exit();
  inbox_.set_state(InboxState::dead);
  // A root takes its session's segments with it; a worker's parent removes
  // what the worker leaves.
  if (!config_.is_worker) unlink_session_segments(session_root_pid());
  std::fflush(nullptr);
  ::_exit(code);
}

}  // namespace isolated::detail
