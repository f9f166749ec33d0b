// A thousand live isolates at once (forked from the zygote): each tells the
// root where it listens, the root sends each a number, each sends it back.
// Nothing is lost, and the thousand end cleanly.
#include <catch2/catch.hpp>

#include "support/deadlines.hpp"

#include <isolated/isolated.hpp>

#include <set>
#include <vector>

using namespace isolated;
using isolated::test::deadline_of;
using namespace std::chrono_literals;

namespace {

constexpr int kIsolates = 1000;

// Gives the root a port, echoes the one number that comes, and ends.
void echo_once(SendPort to_root) {
  ReceivePort mine;
  to_root.send(mine.send_port());
  to_root.send(mine.receive().as<int>());
}

}  // namespace

TEST_CASE("1,000 live isolates all send to the root and the root to each", "[stress][zygote]") {
  ReceivePort from_isolates;
  ReceivePort exits;
  SpawnOptions options;
  options.on_exit = exits.send_port();
  std::vector<Isolate> isolates;
  isolates.reserve(kIsolates);
  for (int i = 0; i < kIsolates; ++i) {
    isolates.push_back(Isolate::spawn(&echo_once, from_isolates.send_port(), options));
  }
  // Every one is alive and listening before any is told anything.
  std::vector<SendPort> ports;
  for (int i = 0; i < kIsolates; ++i) {
    const auto port = from_isolates.receive_for(deadline_of(60s));
    REQUIRE(port);
    ports.push_back(port->as<SendPort>());
  }
  for (int i = 0; i < kIsolates; ++i) REQUIRE(ports[static_cast<std::size_t>(i)].send(i));
  std::set<int> echoed;
  for (int i = 0; i < kIsolates; ++i) {
    const auto number = from_isolates.receive_for(deadline_of(60s));
    REQUIRE(number);
    echoed.insert(number->as<int>());
  }
  CHECK(echoed.size() == static_cast<std::size_t>(kIsolates));
  CHECK(*echoed.begin() == 0);
  CHECK(*echoed.rbegin() == kIsolates - 1);
  for (int i = 0; i < kIsolates; ++i) REQUIRE(exits.receive_for(deadline_of(60s)));
}
