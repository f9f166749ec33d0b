// Ports under stress, through the public API between two isolates: the
// receive path's wake-up logic (spin, then park on the doorbell; any thread
// drains) must neither lose nor reorder a message, nor lose a wake-up when
// sender and receiver race into sleep, nor keep an idle isolate busy.
//
// Every wait has a deadline (scaled in sanitizer runs). A lost wake-up shows
// as a round trip that stalls until a parked thread's slice ends (seconds),
// which the per-round-trip deadline here turns into a failure.
#include <catch2/catch.hpp>

#include "support/deadlines.hpp"

#include <isolated/isolated.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace isolated;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

// Pauses for a random while now and then: often not at all, sometimes long
// enough that the other side's spin gives up and it parks.
class RandomPauses {
 public:
  explicit RandomPauses(std::uint64_t seed) : random_(seed) {}
  void maybe_pause() {
    const auto roll = random_() % 100000;
    if (roll < 3) {
      std::this_thread::sleep_for(std::chrono::microseconds(random_() % 3000));
    } else if (roll < 40) {
      // Around the spin budget: the other side is deciding whether to park.
      const auto until = std::chrono::steady_clock::now() +
                         std::chrono::microseconds(random_() % 80);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
  }

 private:
  std::mt19937_64 random_;
};

// Receives `count` sequence numbers, checking order; pauses at random; then
// reports [received, checksum, first out-of-order index or -1].
void ordered_sink(std::tuple<SendPort, std::uint64_t> setup) {
  const auto [reply, count] = setup;
  ReceivePort port;
  reply.send(port.send_port());
  RandomPauses pauses(count ^ 0x5eed);
  std::uint64_t received = 0;
  std::uint64_t checksum = 0;
  std::int64_t first_disorder = -1;
  while (received < count) {
    const auto value = port.receive().as<std::uint64_t>();
    if (value != received && first_disorder < 0) first_disorder = static_cast<std::int64_t>(received);
    checksum = checksum * 31 + value;
    ++received;
    pauses.maybe_pause();
  }
  reply.send(std::tuple<std::uint64_t, std::uint64_t, std::int64_t>(received, checksum,
                                                                    first_disorder));
}

// Echoes every message after a random short wait (around the spin budget),
// until nil.
void racing_echo(std::tuple<SendPort, std::uint64_t> setup) {
  const auto [reply, seed] = setup;
  ReceivePort port;
  reply.send(port.send_port());
  std::mt19937_64 random(seed);
  for (;;) {
    Message message = port.receive();
    if (message.is<std::nullptr_t>()) return;
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 120));
    reply.send(message);
  }
}

// Waits in receive() for a message that never comes (nil ends it).
void idle_receiver(SendPort reply) {
  ReceivePort port;
  reply.send(port.send_port());
  port.receive();
}

// A peer isolate, spawned with the message make_setup(reply port) makes;
// it answers first with its own port.
struct Peer {
  template <class Entry, class MakeSetup>
  Peer(Entry entry, MakeSetup make_setup) {
    SpawnOptions options;
    options.on_exit = exited.send_port();
    isolate.emplace(Isolate::spawn(entry, make_setup(replies.send_port()), options));
    const auto first = replies.receive_for(deadline_of(30s));
    REQUIRE(first);
    port = first->template as<SendPort>();
  }
  ~Peer() {
    // Ends it if the test did not; its exit listener says it is gone.
    isolate->kill(Priority::immediate);
    exited.receive_for(deadline_of(30s));
  }
  ReceivePort replies;
  ReceivePort exited;
  std::optional<Isolate> isolate;
  SendPort port;
};

// CPU time (user + system) that process `pid` used so far, in clock ticks.
long cpu_ticks(int pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(file, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stol(field);  // utime, stime
    if (i == 15) break;
  }
  return ticks;
}

}  // namespace

TEST_CASE("ten million messages under random pauses on both sides arrive whole and in order",
          "[stress][ports]") {
  static constexpr std::uint64_t kCount = 10'000'000;
  Peer sink(&ordered_sink,
            [](SendPort reply) { return std::tuple<SendPort, std::uint64_t>(reply, kCount); });
  RandomPauses pauses(7);
  std::uint64_t checksum = 0;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    REQUIRE(sink.port.send(i));
    checksum = checksum * 31 + i;
    pauses.maybe_pause();
  }
  const auto report = sink.replies.receive_for(deadline_of(120s));
  REQUIRE(report);
  const auto [received, their_checksum, first_disorder] =
      report->as<std::tuple<std::uint64_t, std::uint64_t, std::int64_t>>();
  CHECK(received == kCount);
  CHECK(first_disorder == -1);
  CHECK(their_checksum == checksum);
}

TEST_CASE("no wake-up is lost when sender and receiver race into sleep", "[stress][ports]") {
  // Each side waits a random 0-120 µs before it answers, so the other is
  // sometimes spinning, sometimes just parking, sometimes asleep. A lost
  // wake-up would stall a round trip until a parked thread's slice ends.
  Peer echo(&racing_echo,
            [](SendPort reply) { return std::tuple<SendPort, std::uint64_t>(reply, 42); });
  std::mt19937_64 random(99);
  constexpr int kRoundTrips = 20000;
  int stalled = 0;
  for (int i = 0; i < kRoundTrips; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(random() % 120));
    REQUIRE(echo.port.send(i));
    const auto back = echo.replies.receive_for(deadline_of(2s));
    if (!back) {
      ++stalled;
      break;
    }
    REQUIRE(back->as<int>() == i);
  }
  CHECK(stalled == 0);
  echo.port.send(nullptr);
}

TEST_CASE("ten idle isolates waiting in receive() use next to no CPU", "[stress][ports]") {
  std::vector<std::unique_ptr<Peer>> idle;
  for (int i = 0; i < 10; ++i) {
    idle.push_back(std::make_unique<Peer>(&idle_receiver, [](SendPort reply) { return reply; }));
  }
  // Let their spin budgets fall back once, then measure.
  std::this_thread::sleep_for(200ms);
  std::vector<long> before;
  for (const auto& peer : idle) before.push_back(cpu_ticks(peer->isolate->pid()));
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(5s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  long used = 0;
  for (std::size_t i = 0; i < idle.size(); ++i) {
    used += cpu_ticks(idle[i]->isolate->pid()) - before[i];
  }
  const double share = static_cast<double>(used) / static_cast<double>(::sysconf(_SC_CLK_TCK)) / seconds;
  INFO("ten idle isolates used " << share * 100 << "% of one CPU");
  // The aim is under 1% (isolated-bench ports prints it); a spinning isolate
  // would use 100% of one. The bound leaves room for a loaded machine.
  CHECK(share < 0.05);
  for (const auto& peer : idle) peer->port.send(nullptr);
}
