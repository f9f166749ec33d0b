// Gates: a task that must stay busy waits at a gate the test opens, so that
// no test depends on timing. The task runs in a runner; the test holds the
// other side.
#pragma once

#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include "deadlines.hpp"

#include <unistd.h>

#include <chrono>
#include <tuple>

namespace isolated::test {

// Sends the test a port and this pid, then waits until the test sends to
// that port (or gives up after a while, so a failing test cannot hang).
inline int gated(SendPort test) {
  ReceivePort gate;
  test.send(std::tuple<SendPort, int>(gate.send_port(), static_cast<int>(::getpid())));
  gate.receive_for(std::chrono::seconds(30));
  return static_cast<int>(::getpid());
}

// The test's side of a gate: a task running behind one.
struct Gate {
  SendPort open_port;
  int pid = 0;
};

inline Gate wait_at_gate(ReceivePort& port) {
  auto message = port.receive_for(deadline_of(std::chrono::seconds(10)));
  REQUIRE(message);
  const auto [open_port, pid] = message->as<std::tuple<SendPort, int>>();
  return Gate{open_port, pid};
}

}  // namespace isolated::test
