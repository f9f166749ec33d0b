// The control plane (DESIGN §5, API.md): ping, kill, pause/resume, exit and
// error listeners, Isolate::current and Isolate::exit, nested isolates, and
// what ports do once closed. The scenarios follow Dart's own isolate tests
// (ping_test, kill_test, pause_test, handle_error_test, nested_spawn_test,
// count_test, message_test...), rewritten for isolated.
//
// Every isolate a test spawns goes through `Spawned`, which registers an exit
// listener before the entry runs (SpawnOptions::on_exit) and, if the test did
// not see the isolate end, kills it and waits for that listener on the way out,
// so no process or segment outlives the test case.
#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

using namespace isolated;
using namespace std::chrono_literals;

namespace {

// Long enough for anything that should happen; a test that passes never waits
// this long.
constexpr auto kDeadline = 10s;
// How long a test looks for something that must NOT happen. Passing never
// depends on it being short; a broken runtime may slip through if it is slow.
constexpr auto kQuiet = 300ms;

// ------------------------------------------------------------------ entries

// Opens a port that outlives the entry (the isolate then stays in its event
// loop, Dart-style), sends its SendPort to `reply`, and echoes each message
// to `reply` from the listener. The string "throw" makes the listener throw.
void listening_echo_entry(SendPort reply) {
  auto* port = new ReceivePort();  // lives as long as the isolate
  port->listen([reply](Message message) {
    if (message.is<std::string>() && message.as<std::string>() == "throw") {
      throw std::runtime_error("the listener failed on purpose");
    }
    reply.send(message);
  });
  reply.send(port->send_port());
}

// Like listening_echo_entry, but the message "block" makes the current event
// announce ["blocked", gate] and wait (a blocking receive, not an event) for
// a message on `gate`; then it sends "unblocked" and the event ends.
void blocking_event_entry(SendPort reply) {
  auto* port = new ReceivePort();
  port->listen([reply](Message message) {
    if (message.is<std::string>() && message.as<std::string>() == "block") {
      ReceivePort gate;
      reply.send(std::tuple<std::string, SendPort>("blocked", gate.send_port()));
      gate.receive();
      reply.send(std::string("unblocked"));
      return;
    }
    reply.send(message);
  });
  reply.send(port->send_port());
}

// Echoes with blocking receives from its entry; it never returns to the
// event loop.
void receiving_echo_entry(SendPort reply) {
  ReceivePort inbox;
  reply.send(inbox.send_port());
  for (;;) {
    Message message = inbox.receive();
    reply.send(message);
  }
}

// Says it started, then computes forever: it never returns to the event loop.
void spinning_entry(SendPort reply) {
  reply.send(std::string("spinning"));
  volatile std::uint64_t counter = 0;
  for (;;) counter = counter + 1;
}

// Sends Isolate::current() (its control port and capabilities) to `reply`,
// then stays in its event loop.
void current_entry(SendPort reply) {
  const Isolate self = Isolate::current();
  reply.send(std::tuple<SendPort, Capability, Capability>(
      self.control_port(), *self.pause_capability(), *self.terminate_capability()));
  auto* port = new ReceivePort();
  port->listen([](Message) {});
}

// Like listening_echo_entry, then throws from the entry itself.
void throwing_entry(SendPort reply) {
  listening_echo_entry(reply);
  throw std::runtime_error("the entry failed on purpose");
}

// Kills itself with Priority::immediate; that must not return.
void self_kill_entry(SendPort reply) {
  reply.send(std::tuple<std::string, int>("about to kill myself", static_cast<int>(::getpid())));
  Isolate::current().kill(Priority::immediate);
  reply.send(std::string("kill returned"));
}

// Ends with Isolate::exit, whose message is a tag and `size` bytes of text.
void exit_entry(std::tuple<SendPort, std::size_t> argument) {
  const auto [reply, size] = argument;
  std::string payload(size, 'x');
  for (std::size_t i = 0; i < size; i += 4096) payload[i] = static_cast<char>('a' + (i / 4096) % 26);
  Isolate::exit(reply, std::tuple<std::string, int, std::string>(
                          "last words", static_cast<int>(::getpid()), payload));
}

// A grandchild: tells `root` its pid and parent pid, then stays in its event
// loop.
void grandchild_entry(SendPort root) {
  root.send(std::tuple<std::string, int, int>("grandchild", static_cast<int>(::getpid()),
                                              static_cast<int>(::getppid())));
  auto* port = new ReceivePort();
  port->listen([](Message) {});
}

// A child that spawns a grandchild and hands it `root`; tells `root` its own
// pid and a handle on the grandchild, then stays in its event loop.
void child_entry(SendPort root) {
  SpawnOptions options;
  options.debug_name = "grandchild";
  const Isolate grandchild = Isolate::spawn(&grandchild_entry, root, options);
  root.send(std::tuple<std::string, int, SendPort, Capability, Capability>(
      "child", static_cast<int>(::getpid()), grandchild.control_port(),
      *grandchild.pause_capability(), *grandchild.terminate_capability()));
  auto* port = new ReceivePort();
  port->listen([](Message) {});
}

// Sends each port of the map its own name, then returns (and so ends).
void fanout_entry(std::map<std::string, SendPort> ports) {
  for (const auto& [name, port] : ports) port.send(name);
}

// ------------------------------------------------------------------ helpers

// An isolate whose end the test waits for, one way or another.
class Spawned {
 public:
  template <class Entry, class Arg>
  Spawned(Entry entry, Arg&& message, SpawnOptions options = {})
      : isolate_(spawn_watched(entry, std::forward<Arg>(message), std::move(options), exit_)) {}
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;

  ~Spawned() {
    if (ended_) return;
    try {
      isolate_.kill(Priority::immediate);
      if (!exit_.receive_for(kDeadline)) {
        std::fprintf(stderr, "control_test: isolate %d did not end when killed\n", pid_);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "control_test: cleaning up isolate %d: %s\n", pid_, e.what());
    }
  }

  const Isolate& isolate() const { return isolate_; }
  int pid() const { return pid_; }

  // Waits for the isolate's end (its exit listener from SpawnOptions, nil).
  bool wait_for_end() {
    if (ended_) return true;
    const auto message = exit_.receive_for(kDeadline);
    if (message) ended_ = true;
    return ended_;
  }

 private:
  template <class Entry, class Arg>
  Isolate spawn_watched(Entry entry, Arg&& message, SpawnOptions options, ReceivePort& exit) {
    options.on_exit = exit.send_port();
    Isolate isolate = Isolate::spawn(entry, std::forward<Arg>(message), std::move(options));
    pid_ = isolate.pid();
    return isolate;
  }

  ReceivePort exit_;  // declared first: spawn_watched uses it
  int pid_ = 0;
  Isolate isolate_;
  bool ended_ = false;
};

bool process_gone(int pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == -1 && errno == ESRCH;
}

// The parent pid, field 4 of /proc/<pid>/stat (the name in field 2 may hold
// spaces, so read after its closing parenthesis).
int parent_pid_of(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 1));
  std::string state;
  int ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

std::string text_of(const std::optional<Message>& message) {
  return message ? message->to_string() : "(nothing)";
}

// Takes the first message of `reply`: the SendPort a listening entry sends.
SendPort first_port(ReceivePort& reply) {
  auto message = reply.receive_for(kDeadline);
  REQUIRE(message);
  REQUIRE(message->is<SendPort>());
  return message->as<SendPort>();
}

// Pings `isolate` and waits for the answer: every control command sent
// before it from this thread has been handled.
bool pinged(const Isolate& isolate, Priority priority = Priority::immediate) {
  ReceivePort pong;
  isolate.ping(pong.send_port(), std::string("pong"), priority);
  const auto answer = pong.receive_for(kDeadline);
  return answer && answer->is<std::string>() && answer->as<std::string>() == "pong";
}

// msgpack for [[[...[42]...]]], `depth` lists deep.
std::vector<std::byte> nested_lists(std::size_t depth) {
  std::vector<std::byte> bytes(depth, std::byte{0x91});  // fixarray of one element
  bytes.push_back(std::byte{42});                          // positive fixint 42
  return bytes;
}

}  // namespace

// ====================================================================== ping

TEST_CASE("ping answers with both priorities", "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  first_port(reply);
  const Isolate& isolate = spawned.isolate();

  ReceivePort pong;
  isolate.ping(pong.send_port(), std::string("immediate"), Priority::immediate);
  auto answer = pong.receive_for(kDeadline);
  REQUIRE(answer);
  CHECK(answer->as<std::string>() == "immediate");

  isolate.ping(pong.send_port(), 42, Priority::before_next_event);
  answer = pong.receive_for(kDeadline);
  REQUIRE(answer);
  CHECK(answer->as<int>() == 42);

  // The default priority is immediate; a structured response travels whole.
  isolate.ping(pong.send_port(), std::tuple<std::string, std::vector<int>>("ping", {1, 2, 3}));
  answer = pong.receive_for(kDeadline);
  REQUIRE(answer);
  const auto [tag, numbers] = answer->as<std::tuple<std::string, std::vector<int>>>();
  CHECK(tag == "ping");
  CHECK(numbers == std::vector<int>{1, 2, 3});
}

TEST_CASE("ping with immediate priority answers while the entry never returns",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&spinning_entry, reply.send_port());
  const auto started = reply.receive_for(kDeadline);
  REQUIRE(started);
  CHECK(started->as<std::string>() == "spinning");

  for (int i = 0; i < 5; ++i) {
    ReceivePort pong;
    spawned.isolate().ping(pong.send_port(), i, Priority::immediate);
    const auto answer = pong.receive_for(kDeadline);
    REQUIRE(answer);
    CHECK(answer->as<int>() == i);
  }
}

// ====================================================================== kill

TEST_CASE("kill with immediate priority ends an isolate in its event loop",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);
  const int pid = spawned.pid();
  REQUIRE(pid > 0);
  REQUIRE(to_worker.send(std::string("hello")));
  const auto echoed = reply.receive_for(kDeadline);
  REQUIRE(echoed);
  CHECK(echoed->as<std::string>() == "hello");

  ReceivePort exited;
  spawned.isolate().add_on_exit_listener(exited.send_port(), std::string("killed"));
  spawned.isolate().kill(Priority::immediate);
  const auto bye = exited.receive_for(kDeadline);
  REQUIRE(bye);
  CHECK(bye->as<std::string>() == "killed");
  REQUIRE(spawned.wait_for_end());

  CHECK(process_gone(pid));
  // The handle, and a copy of it, still name the isolate that ended.
  const Isolate copy = spawned.isolate();
  CHECK(copy.pid() == pid);
  CHECK(spawned.isolate().debug_name().empty());  // spawned without a debug name
  // The runtime has seen its end: a send to its port says so.
  CHECK_FALSE(to_worker.send(std::string("anyone there?")));
}

TEST_CASE("kill with before_next_event priority ends an isolate in its event loop",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);
  const int pid = spawned.pid();
  REQUIRE(pid > 0);

  ReceivePort exited;
  spawned.isolate().add_on_exit_listener(exited.send_port(), 7);
  spawned.isolate().kill(Priority::before_next_event);
  const auto bye = exited.receive_for(kDeadline);
  REQUIRE(bye);
  CHECK(bye->as<int>() == 7);
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(pid));
  CHECK_FALSE(to_worker.send(1));
}

TEST_CASE("kill with before_next_event lets the current event finish and runs no other",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&blocking_event_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);

  REQUIRE(to_worker.send(std::string("block")));
  const auto blocked = reply.receive_for(kDeadline);
  REQUIRE(blocked);
  const auto [tag, gate] = blocked->as<std::tuple<std::string, SendPort>>();
  REQUIRE(tag == "blocked");

  spawned.isolate().kill(Priority::before_next_event);
  // Make sure the kill was seen while the event still runs.
  REQUIRE(pinged(spawned.isolate()));
  // A message queued behind the current event: it must never be handled.
  REQUIRE(to_worker.send(std::string("queued behind the kill")));
  REQUIRE(gate.send(std::string("go")));

  const auto finished = reply.receive_for(kDeadline);
  REQUIRE(finished);
  CHECK(finished->as<std::string>() == "unblocked");
  REQUIRE(spawned.wait_for_end());
  // Whatever it sent before it ended arrived before its exit listener fired.
  const auto stray = reply.try_receive();
  INFO("unexpected: " << text_of(stray));
  CHECK_FALSE(stray);
}

TEST_CASE("kill with immediate priority ends an isolate in the middle of an event",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&blocking_event_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);
  REQUIRE(to_worker.send(std::string("block")));
  const auto blocked = reply.receive_for(kDeadline);
  REQUIRE(blocked);
  CHECK(std::get<0>(blocked->as<std::tuple<std::string, SendPort>>()) == "blocked");

  spawned.isolate().kill(Priority::immediate);
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(spawned.pid()));
  const auto stray = reply.try_receive();
  INFO("unexpected: " << text_of(stray));
  CHECK_FALSE(stray);
}

TEST_CASE("kill with immediate priority ends an isolate whose entry never returns",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&spinning_entry, reply.send_port());
  const auto started = reply.receive_for(kDeadline);
  REQUIRE(started);
  CHECK(started->as<std::string>() == "spinning");

  spawned.isolate().kill(Priority::immediate);
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(spawned.pid()));
}

TEST_CASE("a handle without capabilities refuses kill and pause locally",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);

  const Isolate bare(spawned.isolate().control_port());
  CHECK_FALSE(bare.terminate_capability());
  CHECK_FALSE(bare.pause_capability());
  CHECK(bare == spawned.isolate());
  CHECK_THROWS_AS(bare.kill(Priority::immediate), Error);
  CHECK_THROWS_AS(bare.kill(Priority::before_next_event), Error);
  CHECK_THROWS_AS(bare.pause(), Error);
  CHECK_THROWS_AS(bare.set_errors_fatal(false), Error);

  // What needs no capability still works through it.
  REQUIRE(pinged(bare));
  CHECK(bare.pid() == spawned.pid());
  REQUIRE(to_worker.send(std::string("still alive")));
  const auto echoed = reply.receive_for(kDeadline);
  REQUIRE(echoed);
  CHECK(echoed->as<std::string>() == "still alive");
}

TEST_CASE("kill and pause through a handle with wrong capabilities are ignored",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);

  const Isolate forged(spawned.isolate().control_port(), Capability(), Capability());
  forged.kill(Priority::immediate);
  REQUIRE(pinged(spawned.isolate()));
  forged.kill(Priority::before_next_event);
  REQUIRE(pinged(spawned.isolate(), Priority::before_next_event));
  forged.pause();
  forged.set_errors_fatal(false);

  // Not killed and not paused: it still answers, events still run.
  REQUIRE(to_worker.send(std::string("after the forgeries")));
  const auto echoed = reply.receive_for(kDeadline);
  REQUIRE(echoed);
  CHECK(echoed->as<std::string>() == "after the forgeries");
  REQUIRE(pinged(forged));
  CHECK(spawned.isolate().pid() == spawned.pid());
  CHECK_FALSE(process_gone(spawned.pid()));

  // And the genuine handle still kills it.
  spawned.isolate().kill(Priority::before_next_event);
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(spawned.pid()));
}

// ============================================================= pause/resume

TEST_CASE("messages sent while paused are delivered in order after resume",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);
  const Isolate& isolate = spawned.isolate();

  const Capability resume = isolate.pause();
  for (int i = 0; i < 20; ++i) REQUIRE(to_worker.send(i));
  // The control plane still answers a paused isolate.
  REQUIRE(pinged(isolate));
  const auto early = reply.receive_for(kQuiet);
  INFO("delivered while paused: " << text_of(early));
  CHECK_FALSE(early);

  isolate.resume(resume);
  for (int i = early ? 1 : 0; i < 20; ++i) {
    const auto message = reply.receive_for(kDeadline);
    REQUIRE(message);
    CHECK(message->as<int>() == i);
  }
  // Events run normally again.
  REQUIRE(to_worker.send(std::string("after")));
  const auto after = reply.receive_for(kDeadline);
  REQUIRE(after);
  CHECK(after->as<std::string>() == "after");
}

TEST_CASE("two distinct pause capabilities need two resumes", "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);
  const Isolate& isolate = spawned.isolate();

  const Capability first = isolate.pause();
  const Capability second = isolate.pause(Capability());
  CHECK_FALSE(first == second);
  REQUIRE(to_worker.send(1));
  REQUIRE(to_worker.send(2));

  isolate.resume(first);
  REQUIRE(pinged(isolate));  // the resume was handled
  const auto early = reply.receive_for(kQuiet);
  INFO("delivered with one pause left: " << text_of(early));
  CHECK_FALSE(early);

  isolate.resume(second);
  for (int i = early ? 2 : 1; i <= 2; ++i) {
    const auto message = reply.receive_for(kDeadline);
    REQUIRE(message);
    CHECK(message->as<int>() == i);
  }
}

TEST_CASE("pausing twice with the same capability needs one resume", "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);
  const Isolate& isolate = spawned.isolate();

  const Capability capability;
  CHECK(isolate.pause(capability) == capability);
  CHECK(isolate.pause(capability) == capability);
  REQUIRE(to_worker.send(std::string("one")));
  REQUIRE(pinged(isolate));
  const auto early = reply.receive_for(kQuiet);
  INFO("delivered while paused: " << text_of(early));
  CHECK_FALSE(early);

  isolate.resume(capability);
  if (!early) {
    const auto message = reply.receive_for(kDeadline);
    REQUIRE(message);
    CHECK(message->as<std::string>() == "one");
  }
  // Resuming with an unknown capability changes nothing.
  isolate.resume(Capability());
  REQUIRE(to_worker.send(std::string("two")));
  const auto message = reply.receive_for(kDeadline);
  REQUIRE(message);
  CHECK(message->as<std::string>() == "two");
}

TEST_CASE("an isolate spawned paused runs its entry only once resumed",
          "[integration][control]") {
  ReceivePort reply;
  SpawnOptions options;
  options.paused = true;
  options.debug_name = "paused";
  Spawned spawned(&listening_echo_entry, reply.send_port(), options);
  const Isolate& isolate = spawned.isolate();
  REQUIRE(isolate.pause_capability());
  REQUIRE(isolate.terminate_capability());
  CHECK(spawned.pid() > 0);

  // Alive and answering, but its entry has not run.
  REQUIRE(pinged(isolate));
  const auto early = reply.receive_for(kQuiet);
  INFO("the paused entry sent: " << text_of(early));
  CHECK_FALSE(early);

  isolate.resume(*isolate.pause_capability());
  const SendPort to_worker = early ? early->as<SendPort>() : first_port(reply);
  REQUIRE(to_worker.send(std::string("running")));
  const auto echoed = reply.receive_for(kDeadline);
  REQUIRE(echoed);
  CHECK(echoed->as<std::string>() == "running");
}

TEST_CASE("an isolate spawned paused can be killed before it ever runs",
          "[integration][control]") {
  ReceivePort reply;
  SpawnOptions options;
  options.paused = true;
  Spawned spawned(&listening_echo_entry, reply.send_port(), options);
  REQUIRE(pinged(spawned.isolate()));
  spawned.isolate().kill(Priority::immediate);
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(spawned.pid()));
  const auto stray = reply.try_receive();
  INFO("the entry ran: " << text_of(stray));
  CHECK_FALSE(stray);
}

TEST_CASE("an isolate spawned paused and killed before its next event never runs its entry",
          "[integration][control]") {
  ReceivePort reply;
  SpawnOptions options;
  options.paused = true;
  Spawned spawned(&listening_echo_entry, reply.send_port(), options);
  const Isolate& isolate = spawned.isolate();
  isolate.kill(Priority::before_next_event);
  REQUIRE(pinged(isolate));  // the kill was handled
  // Its entry would be its first event; the kill comes before it.
  isolate.resume(*isolate.pause_capability());
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(spawned.pid()));
  const auto stray = reply.try_receive();
  INFO("the entry ran after the kill: " << text_of(stray));
  CHECK_FALSE(stray);
}

TEST_CASE("pause does not stop blocking receives", "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&receiving_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);
  const Isolate& isolate = spawned.isolate();

  const Capability resume = isolate.pause();
  REQUIRE(pinged(isolate));
  for (int i = 0; i < 10; ++i) {
    REQUIRE(to_worker.send(i));
    const auto echoed = reply.receive_for(kDeadline);
    REQUIRE(echoed);
    CHECK(echoed->as<int>() == i);
  }
  isolate.resume(resume);
  REQUIRE(to_worker.send(std::string("resumed")));
  const auto echoed = reply.receive_for(kDeadline);
  REQUIRE(echoed);
  CHECK(echoed->as<std::string>() == "resumed");
}

// ============================================================ current, exit

TEST_CASE("Isolate::current of a worker sent to the parent can kill it",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&current_entry, reply.send_port());
  const auto message = reply.receive_for(kDeadline);
  REQUIRE(message);
  const auto [control, pause, terminate] =
      message->as<std::tuple<SendPort, Capability, Capability>>();
  const Isolate handle(control, pause, terminate);
  CHECK(handle == spawned.isolate());
  CHECK(pause == *spawned.isolate().pause_capability());
  CHECK(terminate == *spawned.isolate().terminate_capability());
  CHECK(handle.pid() == spawned.pid());

  ReceivePort exited;
  handle.add_on_exit_listener(exited.send_port(), std::string("gone"));
  handle.kill(Priority::immediate);
  const auto bye = exited.receive_for(kDeadline);
  REQUIRE(bye);
  CHECK(bye->as<std::string>() == "gone");
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(spawned.pid()));
}

TEST_CASE("an isolate that kills itself with immediate priority does not come back",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&self_kill_entry, reply.send_port());
  const auto first = reply.receive_for(kDeadline);
  REQUIRE(first);
  // Its own pid: it may be gone before the spawning side could read it.
  const auto [tag, pid] = first->as<std::tuple<std::string, int>>();
  CHECK(tag == "about to kill myself");
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(pid));
  const auto stray = reply.try_receive();
  INFO("after the self-kill: " << text_of(stray));
  CHECK_FALSE(stray);
}

TEST_CASE("Isolate::exit delivers its message and ends the isolate", "[integration][control]") {
  // Small, and large enough to travel out of line.
  const std::size_t size = GENERATE(std::size_t{16}, std::size_t{1} << 20);
  ReceivePort reply;
  Spawned spawned(&exit_entry, std::tuple<SendPort, std::size_t>(reply.send_port(), size));
  const auto last = reply.receive_for(kDeadline);
  REQUIRE(last);
  const auto [tag, pid, payload] = last->as<std::tuple<std::string, int, std::string>>();
  CHECK(tag == "last words");
  REQUIRE(payload.size() == size);
  CHECK(payload[0] == 'a');
  CHECK(payload[size - 1] == 'x');
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(pid));
}

// ==================================================================== nested

TEST_CASE("a child's child answers the root through a port it was sent",
          "[integration][control]") {
  ReceivePort root;
  SpawnOptions options;
  options.debug_name = "child";
  Spawned child(&child_entry, root.send_port(), options);

  std::optional<std::tuple<int, SendPort, Capability, Capability>> from_child;
  std::optional<std::tuple<int, int>> from_grandchild;
  for (int i = 0; i < 2; ++i) {
    const auto message = root.receive_for(kDeadline);
    REQUIRE(message);
    const auto parts = message->as<std::vector<Message>>();
    REQUIRE(!parts.empty());
    const auto tag = parts[0].as<std::string>();
    if (tag == "child") {
      const auto [_, pid, control, pause, terminate] =
          message->as<std::tuple<std::string, int, SendPort, Capability, Capability>>();
      from_child.emplace(pid, control, pause, terminate);
    } else {
      REQUIRE(tag == "grandchild");
      const auto [_, pid, ppid] = message->as<std::tuple<std::string, int, int>>();
      from_grandchild.emplace(pid, ppid);
    }
  }
  REQUIRE(from_child);
  REQUIRE(from_grandchild);
  const auto [child_pid, control, pause, terminate] = *from_child;
  const auto [grandchild_pid, grandchild_parent] = *from_grandchild;
  CHECK(child_pid == child.pid());
  CHECK(grandchild_pid != child_pid);
  CHECK(grandchild_pid != static_cast<int>(::getpid()));
  CHECK(grandchild_parent == child_pid);
  CHECK(parent_pid_of(grandchild_pid) == child_pid);
  CHECK(parent_pid_of(child_pid) == static_cast<int>(::getpid()));

  // The root controls the grandchild through the handle the child sent.
  const Isolate grandchild(control, pause, terminate);
  CHECK(grandchild.pid() == grandchild_pid);
  CHECK(grandchild.debug_name() == "grandchild");
  REQUIRE(pinged(grandchild));
  ReceivePort grandchild_exit;
  grandchild.add_on_exit_listener(grandchild_exit.send_port(), std::string("grandchild gone"));
  grandchild.kill(Priority::immediate);
  const auto bye = grandchild_exit.receive_for(kDeadline);
  REQUIRE(bye);
  CHECK(bye->as<std::string>() == "grandchild gone");
  CHECK(process_gone(grandchild_pid));

  // The child outlives its child.
  REQUIRE(pinged(child.isolate()));
  child.isolate().kill(Priority::immediate);
  REQUIRE(child.wait_for_end());
  CHECK(process_gone(child_pid));
}

// ============================================================ many messages

TEST_CASE("a child echoes 10000 messages back in order", "[integration][control]") {
  constexpr int kCount = 10000;
  ReceivePort reply;
  Spawned spawned(&receiving_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);
  for (int i = 0; i < kCount; ++i) REQUIRE(to_worker.send(i));
  int in_order = 0;
  for (int i = 0; i < kCount; ++i) {
    const auto message = reply.receive_for(kDeadline);
    REQUIRE(message);
    if (message->as<int>() == i) ++in_order;
  }
  CHECK(in_order == kCount);
  CHECK_FALSE(reply.try_receive());
}

// ========================================================= complex messages

TEST_CASE("complex messages round-trip through a worker", "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&receiving_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);

  SECTION("deeply nested lists") {
    constexpr std::size_t kDepth = 400;  // below Message::kMaxNesting
    const auto bytes = nested_lists(kDepth);
    const Message deep = Message::decode(bytes);
    REQUIRE(to_worker.send(deep));
    const auto back = reply.receive_for(kDeadline);
    REQUIRE(back);
    CHECK(std::vector<std::byte>(back->bytes().begin(), back->bytes().end()) == bytes);
    Message level = *back;
    std::size_t depth = 0;
    while (level.kind() == MessageKind::array) {
      const auto items = level.as<std::vector<Message>>();
      REQUIRE(items.size() == 1);
      level = items[0];
      ++depth;
    }
    CHECK(depth == kDepth);
    CHECK(level.as<int>() == 42);
  }

  SECTION("maps, optionals, pairs, bytes and capabilities") {
    using Value = std::tuple<std::map<std::string, std::vector<int>>,
                             std::unordered_map<int, std::string>,
                             std::map<std::string, std::map<std::string, double>>,
                             std::vector<std::optional<std::string>>,
                             std::pair<bool, std::vector<std::uint8_t>>,
                             std::vector<Capability>>;
    const Capability capability;
    const Value value{{{"a", {1, 2, 3}}, {"b", {}}, {"c", {-1}}},
                      {{1, "one"}, {2, "two"}, {-3, "minus three"}},
                      {{"outer", {{"x", 1.5}, {"y", -2.25}}}, {"empty", {}}},
                      {std::string("some"), std::nullopt, std::string()},
                      {true, {0, 1, 2, 254, 255}},
                      {capability, capability}};
    REQUIRE(to_worker.send(value));
    const auto back = reply.receive_for(kDeadline);
    REQUIRE(back);
    CHECK(back->kind() == MessageKind::array);
    const auto got = back->as<Value>();
    CHECK(std::get<0>(got) == std::get<0>(value));
    CHECK(std::get<1>(got) == std::get<1>(value));
    CHECK(std::get<2>(got) == std::get<2>(value));
    CHECK(std::get<3>(got) == std::get<3>(value));
    CHECK(std::get<4>(got) == std::get<4>(value));
    REQUIRE(std::get<5>(got).size() == 2);
    CHECK(std::get<5>(got)[0] == capability);
    CHECK(std::get<5>(got)[1] == capability);
  }

  SECTION("SendPorts inside lists and maps stay usable") {
    ReceivePort a;
    ReceivePort b;
    const std::vector<SendPort> list{a.send_port(), b.send_port(), to_worker};
    const std::map<std::string, std::vector<SendPort>> map{{"ports", list}};
    REQUIRE(to_worker.send(std::tuple<std::vector<SendPort>, std::map<std::string, std::vector<SendPort>>>(list, map)));
    const auto back = reply.receive_for(kDeadline);
    REQUIRE(back);
    const auto [got_list, got_map] =
        back->as<std::tuple<std::vector<SendPort>, std::map<std::string, std::vector<SendPort>>>>();
    REQUIRE(got_list == list);
    REQUIRE(got_map == map);
    std::unordered_map<SendPort, int> hashed{{got_list[0], 0}, {got_list[1], 1}};
    CHECK(hashed.at(a.send_port()) == 0);
    CHECK(hashed.at(b.send_port()) == 1);
    REQUIRE(got_map.at("ports")[0].send(std::string("to a")));
    REQUIRE(got_list[1].send(std::string("to b")));
    const auto at_a = a.receive_for(kDeadline);
    const auto at_b = b.receive_for(kDeadline);
    REQUIRE(at_a);
    REQUIRE(at_b);
    CHECK(at_a->as<std::string>() == "to a");
    CHECK(at_b->as<std::string>() == "to b");
  }
}

TEST_CASE("a worker sends through SendPorts it got in a map", "[integration][control]") {
  ReceivePort a;
  ReceivePort b;
  ReceivePort c;
  const std::map<std::string, SendPort> ports{
      {"a", a.send_port()}, {"b", b.send_port()}, {"c", c.send_port()}};
  Spawned spawned(&fanout_entry, ports);
  const std::vector<std::pair<ReceivePort*, std::string>> expected{{&a, "a"}, {&b, "b"}, {&c, "c"}};
  for (const auto& [port, name] : expected) {
    const auto message = port->receive_for(kDeadline);
    REQUIRE(message);
    CHECK(message->as<std::string>() == name);
  }
  // Its entry returned with nothing to listen to: it ends by itself.
  REQUIRE(spawned.wait_for_end());
}

// ===================================================================== errors

TEST_CASE("an uncaught error in a listener is reported and survived when not fatal",
          "[integration][control]") {
  ReceivePort reply;
  ReceivePort errors;
  SpawnOptions options;
  options.errors_are_fatal = false;
  options.on_error = errors.send_port();
  Spawned spawned(&listening_echo_entry, reply.send_port(), options);
  const SendPort to_worker = first_port(reply);

  for (int round = 0; round < 2; ++round) {
    REQUIRE(to_worker.send(std::string("throw")));
    const auto error = errors.receive_for(kDeadline);
    REQUIRE(error);
    REQUIRE(error->is<std::vector<std::string>>());
    const auto parts = error->as<std::vector<std::string>>();
    REQUIRE(parts.size() == 2);
    CHECK_THAT(parts[0], Catch::Contains("the listener failed on purpose"));

    REQUIRE(to_worker.send(round));
    const auto echoed = reply.receive_for(kDeadline);
    REQUIRE(echoed);
    CHECK(echoed->as<int>() == round);
    REQUIRE(pinged(spawned.isolate()));
  }
  CHECK_FALSE(process_gone(spawned.pid()));

  // Made fatal later, the next error ends it.
  spawned.isolate().set_errors_fatal(true);
  REQUIRE(to_worker.send(std::string("throw")));
  const auto error = errors.receive_for(kDeadline);
  REQUIRE(error);
  CHECK(error->as<std::vector<std::string>>().size() == 2);
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(spawned.pid()));
}

TEST_CASE("an uncaught error in the entry is reported and survived when not fatal",
          "[integration][control]") {
  ReceivePort reply;
  ReceivePort errors;
  SpawnOptions options;
  options.errors_are_fatal = false;
  options.on_error = errors.send_port();
  Spawned spawned(&throwing_entry, reply.send_port(), options);
  const SendPort to_worker = first_port(reply);
  const auto error = errors.receive_for(kDeadline);
  REQUIRE(error);
  const auto parts = error->as<std::vector<std::string>>();
  REQUIRE(parts.size() == 2);
  CHECK_THAT(parts[0], Catch::Contains("the entry failed on purpose"));
  // Its port is still listened to: it lives on in its event loop.
  REQUIRE(to_worker.send(std::string("alive")));
  const auto echoed = reply.receive_for(kDeadline);
  REQUIRE(echoed);
  CHECK(echoed->as<std::string>() == "alive");
}

TEST_CASE("an uncaught error in a listener ends the isolate when errors are fatal",
          "[integration][control]") {
  ReceivePort reply;
  ReceivePort errors;
  SpawnOptions options;
  options.errors_are_fatal = true;
  Spawned spawned(&listening_echo_entry, reply.send_port(), options);
  const SendPort to_worker = first_port(reply);
  spawned.isolate().add_error_listener(errors.send_port());
  ReceivePort exited;
  spawned.isolate().add_on_exit_listener(exited.send_port(), std::string("ended by its error"));
  REQUIRE(pinged(spawned.isolate()));

  REQUIRE(to_worker.send(std::string("throw")));
  const auto bye = exited.receive_for(kDeadline);
  REQUIRE(bye);
  CHECK(bye->as<std::string>() == "ended by its error");
  REQUIRE(spawned.wait_for_end());
  CHECK(process_gone(spawned.pid()));

  // Its error arrived before its end was announced, once.
  const auto error = errors.try_receive();
  REQUIRE(error);
  const auto parts = error->as<std::vector<std::string>>();
  REQUIRE(parts.size() == 2);
  CHECK_THAT(parts[0], Catch::Contains("the listener failed on purpose"));
  const auto again = errors.try_receive();
  INFO("a second error message: " << text_of(again));
  CHECK_FALSE(again);
}

TEST_CASE("a removed error listener hears nothing", "[integration][control]") {
  ReceivePort reply;
  ReceivePort removed;
  ReceivePort kept;
  SpawnOptions options;
  options.errors_are_fatal = false;
  Spawned spawned(&listening_echo_entry, reply.send_port(), options);
  const SendPort to_worker = first_port(reply);
  spawned.isolate().add_error_listener(removed.send_port());
  spawned.isolate().add_error_listener(kept.send_port());
  spawned.isolate().remove_error_listener(removed.send_port());
  REQUIRE(to_worker.send(std::string("throw")));
  const auto error = kept.receive_for(kDeadline);
  REQUIRE(error);
  CHECK(error->as<std::vector<std::string>>().size() == 2);
  const auto stray = removed.receive_for(kQuiet);
  INFO("the removed listener got: " << text_of(stray));
  CHECK_FALSE(stray);
}

// ============================================================ exit listeners

TEST_CASE("an exit listener added without a response gets nil", "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  first_port(reply);
  ReceivePort exited;
  spawned.isolate().add_on_exit_listener(exited.send_port());
  spawned.isolate().kill(Priority::immediate);
  const auto bye = exited.receive_for(kDeadline);
  REQUIRE(bye);
  CHECK(bye->kind() == MessageKind::nil);
  CHECK(bye->is<std::nullptr_t>());
  REQUIRE(spawned.wait_for_end());
}

TEST_CASE("an exit listener added twice keeps the newer response and fires once",
          "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  first_port(reply);
  ReceivePort twice;
  ReceivePort last;
  const Isolate& isolate = spawned.isolate();
  isolate.add_on_exit_listener(twice.send_port(), std::string("older"));
  isolate.add_on_exit_listener(twice.send_port(), std::string("newer"));
  isolate.add_on_exit_listener(last.send_port(), std::string("last"));
  isolate.kill(Priority::before_next_event);

  const auto at_last = last.receive_for(kDeadline);
  REQUIRE(at_last);
  CHECK(at_last->as<std::string>() == "last");
  const auto at_twice = twice.receive_for(kDeadline);
  REQUIRE(at_twice);
  CHECK(at_twice->as<std::string>() == "newer");
  const auto again = twice.receive_for(kQuiet);
  INFO("a second exit message: " << text_of(again));
  CHECK_FALSE(again);
  REQUIRE(spawned.wait_for_end());
}

TEST_CASE("a removed exit listener hears nothing", "[integration][control]") {
  ReceivePort reply;
  Spawned spawned(&listening_echo_entry, reply.send_port());
  first_port(reply);
  ReceivePort removed;
  ReceivePort kept;
  const Isolate& isolate = spawned.isolate();
  isolate.add_on_exit_listener(removed.send_port(), std::string("removed"));
  isolate.add_on_exit_listener(kept.send_port(), std::string("kept"));
  isolate.remove_on_exit_listener(removed.send_port());
  isolate.kill(Priority::immediate);

  const auto at_kept = kept.receive_for(kDeadline);
  REQUIRE(at_kept);
  CHECK(at_kept->as<std::string>() == "kept");
  const auto stray = removed.receive_for(kQuiet);
  INFO("the removed listener got: " << text_of(stray));
  CHECK_FALSE(stray);
  REQUIRE(spawned.wait_for_end());
}

// ============================================================== closed ports

TEST_CASE("a send to a closed port returns false", "[integration][control]") {
  ReceivePort port;
  const SendPort address = port.send_port();
  REQUIRE(address.send(1));
  const auto first = port.receive_for(kDeadline);
  REQUIRE(first);
  CHECK(first->as<int>() == 1);
  port.close();
  CHECK(port.closed());
  CHECK_FALSE(address.send(2));
  CHECK_FALSE(address.send(std::string("still closed")));

  // Also when the port closes in a worker: a round trip through it.
  ReceivePort reply;
  Spawned spawned(&receiving_echo_entry, reply.send_port());
  const SendPort to_worker = first_port(reply);
  ReceivePort doomed;
  const SendPort doomed_address = doomed.send_port();
  doomed.close();
  REQUIRE(to_worker.send(doomed_address));
  const auto back = reply.receive_for(kDeadline);
  REQUIRE(back);
  CHECK_FALSE(back->as<SendPort>().send(3));
}

TEST_CASE("receiving from a closed port throws PortClosed", "[integration][control]") {
  ReceivePort port;
  REQUIRE(port.send_port().send(1));
  port.close();
  CHECK_THROWS_AS(port.receive_for(10ms), PortClosed);
  CHECK_THROWS_AS(port.receive_for(kDeadline), PortClosed);
  CHECK_THROWS_AS(port.try_receive(), PortClosed);
  CHECK_THROWS_AS(port.send_port(), PortClosed);
  // Closing again is harmless.
  port.close();
  CHECK_THROWS_AS(port.receive_for(10ms), PortClosed);
}

TEST_CASE("receive_for throws PortClosed when another thread closes the port",
          "[integration][control]") {
  auto port = std::make_shared<ReceivePort>();
  std::promise<void> waiting;
  auto result = std::async(std::launch::async, [port, &waiting] {
    waiting.set_value();
    try {
      const auto message = port->receive_for(kDeadline);
      return message ? std::string("a message") : std::string("timed out");
    } catch (const PortClosed&) {
      return std::string("PortClosed");
    }
  });
  waiting.get_future().wait();
  // Let the receiver block (a close before it waits throws PortClosed too).
  std::this_thread::sleep_for(50ms);
  port->close();
  REQUIRE(result.wait_for(kDeadline) == std::future_status::ready);
  CHECK(result.get() == "PortClosed");
}

TEST_CASE("the messages() range ends when another thread closes the port",
          "[integration][control]") {
  // Shared, so that a range that never ends cannot outlive the port.
  auto port = std::make_shared<ReceivePort>();
  const SendPort address = port->send_port();
  auto three_seen = std::make_shared<std::promise<void>>();
  auto done = std::make_shared<std::promise<std::vector<int>>>();
  std::thread reader([port, three_seen, done] {
    std::vector<int> seen;
    for (const Message& message : port->messages()) {
      seen.push_back(message.as<int>());
      if (seen.size() == 3) three_seen->set_value();
    }
    done->set_value(std::move(seen));
  });
  for (int i = 0; i < 3; ++i) REQUIRE(address.send(i));
  auto seen_three = three_seen->get_future();
  auto finished = done->get_future();
  const bool saw_three = seen_three.wait_for(kDeadline) == std::future_status::ready;
  CHECK(saw_three);
  port->close();
  if (finished.wait_for(kDeadline) != std::future_status::ready) {
    reader.detach();  // it holds what it uses
    FAIL("the messages() range did not end when the port was closed");
  }
  reader.join();
  CHECK(finished.get() == std::vector<int>{0, 1, 2});
  CHECK_FALSE(address.send(3));
}
