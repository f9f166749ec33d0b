// Worker binaries (DESIGN §9): another executable started as an isolate
// (Isolate::spawn_uri) or as a runner (IsolateRunner::spawn_uri) whose
// ISOLATED_EXPORT functions a pool runs by name; and a worker binary started
// by hand that finds its host by name. The program is
// tests/support/worker_binary_program.cpp; it links isolated::worker only.
#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include "support/deadlines.hpp"
#include "support/forked_process.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

extern char** environ;

using namespace isolated;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

const std::string kWorkerBinary = ISOLATED_WORKER_BINARY_PROGRAM;

int local_square(int x) { return x * x; }

using Greeting = std::tuple<std::vector<std::string>, std::string, int>;

// A file in a fresh temporary directory, removed with it.
struct ScratchFile {
  std::filesystem::path directory;
  std::filesystem::path path;
  explicit ScratchFile(const std::string& name, const std::string& content, bool executable) {
    char pattern[] = "/tmp/isolated-worker-binary-XXXXXX";
    directory = ::mkdtemp(pattern);
    path = directory / name;
    std::ofstream(path) << content;
    ::chmod(path.c_str(), executable ? 0700 : 0600);
  }
  ~ScratchFile() { std::filesystem::remove_all(directory); }
};

}  // namespace

TEST_CASE("spawn_uri runs a worker binary with arguments and a message", "[worker_binary]") {
  ReceivePort replies;
  Isolate worker = Isolate::spawn_uri(
      kWorkerBinary, {"two words", "--flag"},
      std::tuple<SendPort, std::string>(replies.send_port(), "the message"));
  const int pid = worker.pid();
  const auto greeting = replies.receive_for(deadline_of(10s));
  REQUIRE(greeting);
  const auto [args, text, worker_pid] = greeting->as<Greeting>();
  CHECK(args == std::vector<std::string>{"two words", "--flag"});
  CHECK(text == "the message");
  CHECK(worker_pid == pid);
  worker.kill(Priority::immediate);
  CHECK(eventually([&] { return process_gone(pid); }));
}

TEST_CASE("a worker binary whose function returns ends cleanly", "[worker_binary]") {
  ReceivePort replies;
  ReceivePort exits;
  ReceivePort errors;
  SpawnOptions options;
  options.on_exit = exits.send_port();
  options.on_error = errors.send_port();
  Isolate::spawn_uri(kWorkerBinary, {"return"},
                     std::tuple<SendPort, std::string>(replies.send_port(), "bye"), options);
  const auto greeting = replies.receive_for(deadline_of(10s));
  REQUIRE(greeting);
  const int pid = std::get<2>(greeting->as<Greeting>());
  CHECK(exits.receive_for(deadline_of(10s)));
  // An abnormal end is reported to the error listeners before the exit
  // listeners hear of it: nothing there now means a clean end.
  CHECK_FALSE(errors.try_receive());
  CHECK(eventually([&] { return process_gone(pid); }));
}

TEST_CASE("a worker binary is an isolate: debug name, kill, exit listener",
          "[worker_binary]") {
  ReceivePort replies;
  ReceivePort exits;
  SpawnOptions options;
  options.debug_name = "uri-worker";
  options.on_exit = exits.send_port();
  Isolate worker = Isolate::spawn_uri(
      kWorkerBinary, {}, std::tuple<SendPort, std::string>(replies.send_port(), "x"), options);
  const int pid = worker.pid();
  REQUIRE(replies.receive_for(deadline_of(10s)));
  CHECK(worker.debug_name() == "uri-worker");
  worker.kill(Priority::immediate);
  CHECK(exits.receive_for(deadline_of(10s)));
  CHECK(eventually([&] { return process_gone(pid); }));
}

TEST_CASE("spawn_uri says at once why a path cannot be a worker", "[worker_binary]") {
  const auto refused = [](const std::string& path) {
    try {
      Isolate::spawn_uri(path, {}, 0);
    } catch (const IsolateSpawnError& e) {
      return std::string(e.what());
    }
    return std::string("no IsolateSpawnError");
  };
  CHECK_THAT(refused("/nonexistent/worker"), Catch::Contains("No such file"));
  const ScratchFile not_executable("worker", "#!/bin/sh\n", false);
  CHECK_THAT(refused(not_executable.path), Catch::Contains("not executable"));
  const ScratchFile script("worker", "#!/bin/sh\nsleep 60\n", true);
  CHECK_THAT(refused(script.path), Catch::Contains("not an ELF executable"));
  CHECK_THAT(refused("/bin/sleep"), Catch::Contains("not a worker binary"));
  CHECK_THAT(refused("/tmp"), Catch::Contains("not a regular file"));
}

TEST_CASE("a pool of worker binaries runs their exported functions by name", "[worker_binary]") {
  LoadBalancer pool =
      LoadBalancer::create(2, [] { return IsolateRunner::spawn_uri(kWorkerBinary); });
  std::vector<std::future<int>> squares;
  for (int i = 0; i < 100; ++i) squares.push_back(pool.run<int>("square", i));
  for (int i = 0; i < 100; ++i) {
    auto& future = squares[static_cast<std::size_t>(i)];
    REQUIRE(ready(future));
    CHECK(future.get() == i * i);
  }
  auto greeting = pool.run<std::string>("greet", std::string("pool"));
  REQUIRE(ready(greeting));
  CHECK(greeting.get() == "hello, pool");

  auto unknown = pool.run<int>("cube", 3);
  REQUIRE(ready(unknown));
  try {
    unknown.get();
    FAIL("no exception");
  } catch (const RemoteError& e) {
    CHECK_THAT(e.message(), Catch::Contains("\"cube\"") &&
                                Catch::Contains("greet, pid, refuse, square"));
  }
  // Code of this program means nothing in another binary: refused, by name.
  auto local = pool.run(&local_square, 3);
  REQUIRE(ready(local));
  CHECK_THROWS_WITH(local.get(), Catch::Contains("by name"));
  pool.close();
}

TEST_CASE("an exported function's exception comes back as RemoteError", "[worker_binary]") {
  IsolateRunner runner = IsolateRunner::spawn_uri(kWorkerBinary);
  auto refused = runner.run<int>("refuse", 1);
  REQUIRE(ready(refused));
  try {
    refused.get();
    FAIL("no exception");
  } catch (const RemoteError& e) {
    CHECK_THAT(e.type_name(), Catch::Contains("invalid_argument"));
    CHECK(e.message() == "no, thank you");
  }
  auto pid = runner.run<int>("pid", 0);
  REQUIRE(ready(pid));
  CHECK(pid.get() == runner.isolate().pid());
  runner.close();
}

TEST_CASE("a worker binary started by hand finds its host by name and serves it",
          "[worker_binary][name_server]") {
  const std::string name = "test-" + std::to_string(::getpid()) + "-jobs";
  ReceivePort hello;
  REQUIRE(name_server::register_port(hello.send_port(), name));
  std::vector<char*> argv{const_cast<char*>(kWorkerBinary.c_str()), const_cast<char*>(name.c_str()),
                          nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, kWorkerBinary.c_str(), nullptr, nullptr, argv.data(), environ) == 0);

  const auto jobs_message = hello.receive_for(deadline_of(10s));
  REQUIRE(jobs_message);
  const auto jobs = jobs_message->as<SendPort>();
  ReceivePort replies;
  for (int x = 1; x <= 10; ++x) {
    REQUIRE(jobs.send(std::tuple<SendPort, int>(replies.send_port(), x)));
    const auto answer = replies.receive_for(deadline_of(10s));
    REQUIRE(answer);
    CHECK(answer->as<int>() == x * x);
  }
  jobs.send(std::tuple<SendPort, int>(replies.send_port(), 0));  // done
  const auto status = reap_child(pid, deadline_of(10s));
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(name_server::remove(name));
}
