// Large messages between isolates: out of line, in segments the sender
// recycles (transport/out_of_line.hpp). They arrive whole, one after another
// through the same segments, and no segment outlives the isolate on either
// side of the exchange, however it ends.
//
// Every wait has a deadline (scaled in sanitizer runs).
#include <catch2/catch.hpp>

#include "support/deadlines.hpp"
#include "common/src/shm/names.hpp"

#include <isolated/isolated.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

using namespace isolated;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

// The out-of-line segments of this session in /dev/shm now.
std::vector<std::string> out_of_line_segments() {
  std::vector<std::string> found;
  for (const auto& name : detail::list_session_segments(detail::session_root_pid())) {
    const auto parsed = detail::parse_segment_name(name);
    if (parsed && parsed->kind == detail::SegmentKind::out_of_line) found.push_back(name);
  }
  return found;
}

std::vector<std::uint8_t> block_of(std::size_t size, std::uint8_t seed) {
  std::vector<std::uint8_t> block(size);
  for (std::size_t i = 0; i < size; ++i) block[i] = static_cast<std::uint8_t>(seed + i * 7);
  return block;
}

bool is_block_of(std::span<const std::byte> bytes, std::size_t size, std::uint8_t seed) {
  if (bytes.size() != size) return false;
  for (std::size_t i = 0; i < size; i += 4093) {
    if (std::to_integer<std::uint8_t>(bytes[i]) != static_cast<std::uint8_t>(seed + i * 7)) return false;
  }
  return true;
}

// Answers each block with whether it arrived intact ([size, seed] first),
// then, on request, sends `count` blocks of its own; nil ends it.
void block_exchange(SendPort reply) {
  ReceivePort port;
  reply.send(port.send_port());
  for (;;) {
    Message message = port.receive();
    if (message.is<std::nullptr_t>()) return;
    if (message.kind() == MessageKind::array) {
      const auto [size, seed, count] = message.as<std::tuple<std::size_t, int, int>>();
      for (int i = 0; i < count; ++i) {
        reply.send(block_of(size, static_cast<std::uint8_t>(seed + i)));
      }
      continue;
    }
    reply.send(message.as<std::span<const std::byte>>().size());
  }
}

struct Exchange {
  Exchange() {
    SpawnOptions options;
    options.on_exit = exited.send_port();
    isolate.emplace(Isolate::spawn(&block_exchange, replies.send_port(), options));
    const auto first = replies.receive_for(deadline_of(30s));
    REQUIRE(first);
    port = first->as<SendPort>();
  }
  ReceivePort replies;
  ReceivePort exited;
  std::optional<Isolate> isolate;
  SendPort port;
};

}  // namespace

TEST_CASE("large messages both ways reuse their segments, and none is left once both sides "
          "are done",
          "[integration][out_of_line]") {
  REQUIRE(out_of_line_segments().empty());
  Exchange exchange;
  // Root to worker: twelve blocks of 1 MiB through the root's recycled
  // segments (two at most per lane).
  const auto block = block_of(1 << 20, 3);
  for (int i = 0; i < 12; ++i) {
    REQUIRE(exchange.port.send(block));
    const auto size = exchange.replies.receive_for(deadline_of(30s));
    REQUIRE(size);
    CHECK(size->as<std::size_t>() == block.size());
    CHECK(out_of_line_segments().size() <= 2);
  }
  // Worker to root: twelve blocks through the worker's segments.
  REQUIRE(exchange.port.send(std::tuple<std::size_t, int, int>(std::size_t{1} << 20, 40, 12)));
  for (int i = 0; i < 12; ++i) {
    const auto received = exchange.replies.receive_for(deadline_of(30s));
    REQUIRE(received);
    CHECK(is_block_of(received->as<std::span<const std::byte>>(), std::size_t{1} << 20,
                      static_cast<std::uint8_t>(40 + i)));
  }
  REQUIRE(exchange.port.send(nullptr));
  REQUIRE(exchange.exited.receive_for(deadline_of(30s)));
  // The root dropped its lane to the ended worker, and with it the segments
  // it kept for that lane; the worker's were unlinked by the root's inbox
  // when the worker's lane went.
  CHECK(eventually([] { return out_of_line_segments().empty(); }));
}

TEST_CASE("a receiver killed while large messages are on their way leaves no segment",
          "[integration][out_of_line]") {
  Exchange exchange;
  const auto block = block_of(4 << 20, 9);
  REQUIRE(exchange.port.send(block));
  REQUIRE(exchange.replies.receive_for(deadline_of(30s)));
  const int pid = exchange.isolate->pid();
  SECTION("with the segment kept for it free") {}
  SECTION("with more on the way, in segments it never reads") {
    for (int i = 0; i < 3; ++i) exchange.port.send(block);
  }
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(exchange.exited.receive_for(deadline_of(30s)));
  // What the root kept for it goes with the dead worker's lane, though this
  // thread sends nothing more (the supervisor drops the lane).
  CHECK(eventually([] { return out_of_line_segments().empty(); }));
  CHECK_FALSE(exchange.port.send(block));
}

TEST_CASE("a sender killed while its large messages are on their way leaves no segment",
          "[integration][out_of_line]") {
  Exchange exchange;
  const int pid = exchange.isolate->pid();
  REQUIRE(exchange.port.send(std::tuple<std::size_t, int, int>(std::size_t{4} << 20, 1, 50)));
  REQUIRE(exchange.replies.receive_for(deadline_of(30s)));  // the first one is here
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(exchange.exited.receive_for(deadline_of(30s)));
  // Its recycled segments' names were known to the root's inbox, which
  // unlinks them when the dead worker's lane goes.
  CHECK(eventually([] { return out_of_line_segments().empty(); }));
}
