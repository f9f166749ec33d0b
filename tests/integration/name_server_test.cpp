// name_server (DESIGN §9): ports findable by name, per user; a name is freed
// when its owner dies. Names carry this test process's pid, so parallel runs
// of the suite do not meet.
#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include "support/deadlines.hpp"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace isolated;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

std::string unique_name(const std::string& stem) {
  return "test-" + std::to_string(::getpid()) + "-" + stem;
}

// Registers a port of its own under the name it is given, tells the test,
// and answers every message on that port with the message plus one.
void register_and_serve(std::tuple<SendPort, std::string> setup) {
  const auto& [test, name] = setup;
  ReceivePort service;
  const bool registered = name_server::register_port(service.send_port(), name);
  test.send(registered);
  for (;;) {
    const auto [reply, value] = service.receive().as<std::tuple<SendPort, int>>();
    reply.send(value + 1);
  }
}

}  // namespace

TEST_CASE("a registered port is found by name until it is removed", "[name_server]") {
  const std::string name = unique_name("plain");
  ReceivePort port;
  REQUIRE(name_server::register_port(port.send_port(), name));
  CHECK_FALSE(name_server::register_port(port.send_port(), name));  // taken
  const auto found = name_server::lookup(name);
  REQUIRE(found);
  CHECK(*found == port.send_port());
  found->send(42);
  const auto message = port.receive_for(deadline_of(5s));
  REQUIRE(message);
  CHECK(message->as<int>() == 42);

  CHECK(name_server::remove(name));
  CHECK_FALSE(name_server::lookup(name));
  CHECK_FALSE(name_server::remove(name));
  CHECK_FALSE(name_server::lookup(unique_name("never-registered")));
}

TEST_CASE("malformed names and invalid ports are refused with a reason", "[name_server]") {
  ReceivePort port;
  for (const std::string& bad : std::vector<std::string>{"", ".hidden", "a/b", "white space",
                                                        std::string(201, 'x')}) {
    CHECK_THROWS_AS(name_server::register_port(port.send_port(), bad), UsageError);
    CHECK_THROWS_AS(name_server::lookup(bad), UsageError);
  }
  CHECK_THROWS_WITH(name_server::register_port(SendPort(), unique_name("invalid")),
                    Catch::Contains("invalid port"));
  CHECK_THROWS_WITH(name_server::lookup("a/b"), Catch::Contains("not a valid name"));
}

TEST_CASE("a name registered by an isolate is found by another, and freed when it is SIGKILLed",
          "[name_server]") {
  const std::string name = unique_name("served");
  ReceivePort events;
  Isolate server = Isolate::spawn(&register_and_serve,
                                  std::tuple<SendPort, std::string>(events.send_port(), name));
  const auto registered = events.receive_for(deadline_of(10s));
  REQUIRE(registered);
  REQUIRE(registered->as<bool>());

  const auto found = name_server::lookup(name);
  REQUIRE(found);
  ReceivePort replies;
  found->send(std::tuple<SendPort, int>(replies.send_port(), 41));
  const auto answer = replies.receive_for(deadline_of(10s));
  REQUIRE(answer);
  CHECK(answer->as<int>() == 42);
  CHECK_FALSE(name_server::register_port(replies.send_port(), name));  // its owner lives

  const int pid = server.pid();  // 0 once it has ended
  REQUIRE(::kill(pid, SIGKILL) == 0);
  CHECK(eventually([&] { return process_gone(pid); }));
  CHECK_FALSE(name_server::lookup(name));
  // The lookup removed the dead owner's entry.
  CHECK_FALSE(std::filesystem::exists("/dev/shm/isolated-names." + std::to_string(::geteuid()) +
                                      "/" + name));
  CHECK(name_server::register_port(replies.send_port(), name));  // free again
  CHECK(name_server::remove(name));
}
