// Isolate: a handle on an isolate, for controlling it (DESIGN §1, §5). It is
// a control port plus the capabilities that authorize pause and kill, like
// Dart's Isolate object; copies are cheap and control the same isolate.
#pragma once

#include <isolated/capability.hpp>
#include <isolated/detail/encode.hpp>
#include <isolated/detail/runtime_calls.hpp>
#include <isolated/message.hpp>
#include <isolated/send_port.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace isolated {

class Isolate;

namespace detail {
// What a handle learned about its isolate (pid, debug name), shared by its
// copies; defined in isolate_control.cpp.
struct IsolateFacts;
// A handle that knows its isolate's pid and debug name from the start (spawn
// and Isolate::current make these).
Isolate known_isolate(SendPort control_port, Capability pause, Capability terminate, int pid,
                      std::string debug_name);
}  // namespace detail

enum class Priority { immediate, before_next_event };

struct SpawnOptions {
  std::string debug_name;          // also the worker's process name (ps, top)
  bool paused = false;             // the entry waits for resume(*pause_capability())
  bool errors_are_fatal = true;    // an uncaught error ends the isolate
  std::optional<SendPort> on_exit, on_error;  // listeners added before the entry runs
  std::size_t lane_bytes = 0;      // ring size of the lanes it sends through; 0: default
};

class Isolate {
 public:
  // The isolate whose control port is `control_port`. Without the
  // capabilities, pause and kill are refused locally (they would be ignored).
  explicit Isolate(SendPort control_port, std::optional<Capability> pause = {},
                   std::optional<Capability> terminate = {});

  // Starts a worker process running `entry(message)`: the same executable,
  // run again. `Entry` is a plain function or a capture-less lambda taking
  // one argument `T`, decoded from `message`. Returns once the entry runs
  // (or, with `paused`, once the worker is ready). Throws IsolateSpawnError.
  // Defined in <isolated/spawn.hpp>, which <isolated/isolated.hpp> and
  // <isolated/worker.hpp> include.
  template <class Entry, class Arg>
  static Isolate spawn(Entry entry, Arg&& message, SpawnOptions options = {});

  // Starts another executable as an isolate (a worker binary).
  template <class Arg>
  static Isolate spawn_uri(const std::string& path, const std::vector<std::string>& args,
                           Arg&& message, SpawnOptions options = {});

  // This isolate, with both capabilities.
  static Isolate current();

  // Sends `message` to `port`, makes sure it was taken from the lane, and
  // ends this isolate cleanly. Never returns.
  template <class T>
  [[noreturn]] static void exit(const SendPort& port, T&& message) {
    auto& buffer = detail::encode_buffer();
    buffer.clear();
    detail::encode(message, buffer);
    detail::exit_isolate(port, buffer);
  }

  SendPort control_port() const { return control_port_; }
  std::optional<Capability> pause_capability() const { return pause_; }
  std::optional<Capability> terminate_capability() const { return terminate_; }

  // Pauses delivery of events (listener calls); they queue up. Returns the
  // capability that resume() needs. Each distinct capability needs its own
  // resume; pausing twice with the same one needs one.
  Capability pause() const;
  Capability pause(const Capability& resume_capability) const;
  void resume(const Capability& resume_capability) const;

  // before_next_event: ends the isolate after its current event;
  // immediate: ends it now. Needs the terminate capability.
  void kill(Priority priority = Priority::before_next_event) const;

  // Sends `response` to `response_port` from within the isolate, as soon as
  // it can (immediate) or after the current event.
  template <class T>
  void ping(const SendPort& response_port, T&& response,
            Priority priority = Priority::immediate) const {
    send_control_with_response(Command::ping, response_port, encoded(response),
                               priority == Priority::immediate);
  }

  // When the isolate ends, in any way, `port` gets `response` (nil by
  // default). Adding the same port again replaces its response.
  void add_on_exit_listener(const SendPort& port) const;
  template <class T>
  void add_on_exit_listener(const SendPort& port, T&& response) const {
    send_control_with_response(Command::add_on_exit_listener, port, encoded(response), false);
  }
  void remove_on_exit_listener(const SendPort& port) const;

  // Uncaught errors of the isolate (and a crash's reason) arrive at `port`
  // as a list of two strings: [description, stack trace].
  void add_error_listener(const SendPort& port) const;
  void remove_error_listener(const SendPort& port) const;

  // Whether an uncaught error ends the isolate. Needs the terminate capability.
  void set_errors_fatal(bool fatal) const;

  // The isolate's debug name and process id. A handle (and its copies) keeps
  // them once it knew them, also after the isolate ended, so a log line about
  // an isolate that crashed can still name it: a handle from spawn knows them
  // from the start; one made from a control port reads them from the
  // isolate's inbox while it lives. A handle that never knew them says "" and
  // 0 once the isolate has ended.
  std::string debug_name() const;
  int pid() const;

  friend bool operator==(const Isolate& a, const Isolate& b) {
    return a.control_port_ == b.control_port_;
  }

  // The control commands, as they travel (the runtime decodes them).
  enum class Command : int {
    kill = 1,
    pause = 2,
    resume = 3,
    ping = 4,
    add_on_exit_listener = 5,
    remove_on_exit_listener = 6,
    add_error_listener = 7,
    remove_error_listener = 8,
    set_errors_fatal = 9,
  };

 private:
  template <class T>
  static std::vector<std::byte> encoded(const T& value) {
    std::vector<std::byte> bytes;
    detail::encode(value, bytes);
    return bytes;
  }
  void send_control_with_response(Command command, const SendPort& port,
                                  const std::vector<std::byte>& response, bool immediate) const;
  // The pid (0: not known) and debug name, read from the isolate's inbox
  // first if this handle does not know them yet and the isolate still lives.
  std::pair<int, std::string> known_facts() const;

  friend Isolate detail::known_isolate(SendPort, Capability, Capability, int, std::string);

  SendPort control_port_;
  std::optional<Capability> pause_;
  std::optional<Capability> terminate_;
  std::shared_ptr<detail::IsolateFacts> facts_;
};

}  // namespace isolated
