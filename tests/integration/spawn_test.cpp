// Spawning isolates and talking to them through ports.
#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <tuple>

using namespace isolated;
using namespace std::chrono_literals;

namespace {

void echo_entry(SendPort reply) {
  ReceivePort inbox;
  reply.send(inbox.send_port());
  for (;;) {
    Message m = inbox.receive();
    if (m.is<std::nullptr_t>()) return;
    reply.send(m);
  }
}

}  // namespace

TEST_CASE("a spawned isolate answers through the port it was sent", "[integration][spawn]") {
  ReceivePort port;
  SpawnOptions options;
  options.debug_name = "echo";
  Isolate isolate = Isolate::spawn(&echo_entry, port.send_port(), options);
  auto worker = port.receive_for(10s);
  REQUIRE(worker);
  const SendPort to_worker = worker->as<SendPort>();
  for (int i = 0; i < 100; ++i) {
    REQUIRE(to_worker.send(std::tuple<int, std::string>(i, "hello")));
    auto back = port.receive_for(10s);
    REQUIRE(back);
    const auto [n, text] = back->as<std::tuple<int, std::string>>();
    CHECK(n == i);
    CHECK(text == "hello");
  }
  CHECK(isolate.pid() > 0);
  CHECK(isolate.pid() != ::getpid());
  CHECK(isolate.debug_name() == "echo");
  std::ifstream comm("/proc/" + std::to_string(isolate.pid()) + "/comm");
  std::string name;
  std::getline(comm, name);
  CHECK(name == "echo");

  ReceivePort exited;
  isolate.add_on_exit_listener(exited.send_port(), std::string("bye"));
  to_worker.send(nullptr);
  auto bye = exited.receive_for(10s);
  REQUIRE(bye);
  CHECK(bye->as<std::string>() == "bye");
}

TEST_CASE("compute brings back a result", "[integration][compute]") {
  auto future = compute([](int x) { return x * 2; }, 21);
  REQUIRE(future.wait_for(10s) == std::future_status::ready);
  CHECK(future.get() == 42);
}

TEST_CASE("computes in a row, many more than an inbox has lane slots, all succeed",
          "[integration][compute]") {
  // Every compute worker registers a lane in this process's inbox, which has
  // 64 slots; its slot must be free again once its end is seen, not only at
  // the inbox's periodic check (every 250 ms), which a quick burst outruns.
  for (int i = 0; i < 150; ++i) {
    auto future = compute([](int x) { return x + 1; }, i);
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    REQUIRE(future.get() == i + 1);
  }
}

namespace {

[[gnu::noinline]] int throw_from_deep_inside(int x) {
  if (x > 0) throw std::invalid_argument("x must not be positive");
  return x;
}

}  // namespace

TEST_CASE("an exception in compute comes back as RemoteError, with where it was thrown",
          "[integration][compute]") {
  auto future = compute(&throw_from_deep_inside, 5);
  REQUIRE(future.wait_for(10s) == std::future_status::ready);
  try {
    future.get();
    FAIL("no exception");
  } catch (const RemoteError& e) {
    CHECK(e.type_name() == "std::invalid_argument");
    CHECK(e.message() == "x must not be positive");
    CHECK_THAT(e.stack_trace(), Catch::Contains("throw_from_deep_inside"));
  }
}

namespace {
void wants_a_string(std::string) {}
}  // namespace

TEST_CASE("an entry given the wrong type of message fails with a clear error at spawn",
          "[integration][spawn]") {
  ReceivePort errors;
  ReceivePort exited;
  SpawnOptions options;
  options.on_error = errors.send_port();
  options.on_exit = exited.send_port();
  Isolate::spawn(&wants_a_string, 42, options);
  auto error = errors.receive_for(10s);
  REQUIRE(error);
  const auto parts = error->as<std::vector<std::string>>();
  REQUIRE(parts.size() == 2);
  CHECK_THAT(parts[0], Catch::Contains("int") && Catch::Contains("string"));
  CHECK(exited.receive_for(10s));
}

namespace {

// Reports whether descriptor `fd` is open in this worker.
void report_fd(std::tuple<SendPort, int> in) {
  const auto [reply, fd] = in;
  reply.send(::fcntl(fd, F_GETFD) != -1);
}

}  // namespace

TEST_CASE("a worker inherits no descriptor but stdin, stdout and stderr", "[integration][spawn]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);  // deliberately without O_CLOEXEC
  ReceivePort reply;
  ReceivePort exited;
  SpawnOptions options;
  options.on_exit = exited.send_port();
  Isolate::spawn(&report_fd, std::tuple<SendPort, int>(reply.send_port(), fds[1]), options);
  auto open_there = reply.receive_for(10s);
  ::close(fds[0]);
  ::close(fds[1]);
  REQUIRE(open_there);
  CHECK_FALSE(open_there->as<bool>());
  CHECK(exited.receive_for(10s));
}
