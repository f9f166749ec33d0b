// The lane ring on its own: frame sizes, wrap-around, a full ring, and the
// consumer's checks against a producer that writes garbage.
#include <catch2/catch.hpp>

#include "support/lane_fixture.hpp"

#include <isolated/error.hpp>

#include <atomic>
#include <random>
#include <thread>

using namespace isolated;
using namespace isolated::detail;
using isolated::test::LaneFixture;
using isolated::test::pattern;
using isolated::test::same_bytes;

namespace {

// Writes one frame and reads it straight back, checking every field.
void round_trip(LaneFixture& lane, std::size_t size, std::uint64_t seed) {
  const auto payload = pattern(size, seed);
  REQUIRE(lane.writer.try_write(FrameKind::message, static_cast<std::uint16_t>(seed & 0xffff),
                                seed, payload));
  LaneReader::Frame frame{};
  REQUIRE(lane.reader.next(frame) == LaneReader::Next::frame);
  CHECK(frame.kind == FrameKind::message);
  CHECK(frame.flags == static_cast<std::uint16_t>(seed & 0xffff));
  CHECK(frame.port == seed);
  REQUIRE(same_bytes(frame.payload, payload));
  lane.reader.consume();
}

// Moves an empty lane's indices to ring position `position` by writing and
// consuming filler frames (every position but 8 can be reached; frames are at
// least 16 bytes).
void advance_to(LaneFixture& lane, std::size_t position, std::uint32_t capacity) {
  const std::size_t biggest = frame_bytes(max_inline_payload(capacity));
  std::size_t remaining = position;
  while (remaining > 0) {
    std::size_t size = std::min(biggest, remaining);
    if (remaining - size != 0 && remaining - size < sizeof(FrameHeader)) size -= sizeof(FrameHeader);
    round_trip(lane, size - sizeof(FrameHeader), remaining);
    remaining -= size;
  }
}

}  // namespace

TEST_CASE("every frame size up to the inline limit arrives intact", "[unit][lane]") {
  LaneFixture lane;
  const std::size_t limit = lane.writer.max_inline_payload();
  REQUIRE(limit == max_inline_payload(kMinLaneCapacity));
  for (std::size_t size = 0; size <= limit; ++size) round_trip(lane, size, size + 1);
  LaneReader::Frame frame{};
  CHECK(lane.reader.next(frame) == LaneReader::Next::empty);
  CHECK(lane.writer.drained());
}

TEST_CASE("frames wrap around the ring's end at every reachable offset", "[unit][lane]") {
  const std::uint32_t capacity = kMinLaneCapacity;
  std::mt19937_64 random(42);
  for (std::size_t position = 0; position < capacity; position += kFrameAlignment) {
    if (position == kFrameAlignment) continue;  // no frame is 8 bytes long
    LaneFixture lane(capacity);
    advance_to(lane, position, capacity);
    // Sizes that straddle the end in every way: just fits, wraps, wraps big.
    const std::size_t gap = capacity - position;
    const std::size_t limit = lane.writer.max_inline_payload();
    for (const std::size_t size :
         {gap >= 16 ? std::min(gap - 16, limit) : std::size_t{0}, std::min(gap, limit),
          std::min(gap + 8, limit), limit, std::size_t{0},
          static_cast<std::size_t>(random() % (limit + 1))}) {
      round_trip(lane, size, position + size);
    }
  }
}

TEST_CASE("a full lane refuses frames until the consumer frees space", "[unit][lane]") {
  LaneFixture lane;
  const auto payload = pattern(100, 7);
  int written = 0;
  while (lane.writer.try_write(FrameKind::message, 0, static_cast<std::uint64_t>(written), payload)) {
    ++written;
  }
  CHECK(written == static_cast<int>(kMinLaneCapacity / frame_bytes(100)));

  // write() gives up, writing nothing, as soon as keep_waiting says no.
  int asked = 0;
  CHECK_FALSE(lane.writer.write(FrameKind::message, 0, 999, payload, [&] { return ++asked < 3; },
                                std::chrono::microseconds(10), std::chrono::milliseconds(1)));
  CHECK(asked == 3);

  // A blocked write() goes through once another thread consumes.
  std::atomic<bool> consumed{false};
  std::thread consumer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    LaneReader::Frame frame{};
    REQUIRE(lane.reader.next(frame) == LaneReader::Next::frame);
    lane.reader.consume();
    lane.reader.wake_producer();
    consumed = true;
  });
  CHECK(lane.writer.write(FrameKind::message, 0, 1000, payload, [] { return true; }));
  consumer.join();
  CHECK(consumed);

  // Order is kept: 1 .. written-1, then 1000.
  LaneReader::Frame frame{};
  for (int i = 1; i < written; ++i) {
    REQUIRE(lane.reader.next(frame) == LaneReader::Next::frame);
    CHECK(frame.port == static_cast<std::uint64_t>(i));
    lane.reader.consume();
  }
  REQUIRE(lane.reader.next(frame) == LaneReader::Next::frame);
  CHECK(frame.port == 1000);
  lane.reader.consume();
  CHECK(lane.reader.next(frame) == LaneReader::Next::empty);
}

// ------------------------------------------------------------ hostile producer

namespace {

void publish(LaneFixture& lane, std::uint64_t write_index) {
  lane.header().write_index.store(write_index, std::memory_order_release);
}

void put_header(LaneFixture& lane, std::size_t at, std::uint32_t length, std::uint16_t kind) {
  const FrameHeader header{length, kind, 0, 1};
  std::memcpy(lane.ring() + at, &header, sizeof header);
}

std::string fault_after_next(LaneFixture& lane) {
  LaneReader::Frame frame{};
  REQUIRE(lane.reader.next(frame) == LaneReader::Next::corrupt);
  CHECK(lane.reader.closed());
  // Once closed, the lane stays closed.
  CHECK(lane.reader.next(frame) == LaneReader::Next::corrupt);
  return lane.reader.fault();
}

}  // namespace

TEST_CASE("the consumer rejects frames that break the lane's rules", "[unit][lane]") {
  LaneFixture lane;
  SECTION("a write index beyond the ring") {
    publish(lane, kMinLaneCapacity + 64);
    CHECK_THAT(fault_after_next(lane), Catch::Contains("outside the ring"));
  }
  SECTION("a misaligned write index") {
    put_header(lane, 0, 0, static_cast<std::uint16_t>(FrameKind::message));
    publish(lane, 12);
    CHECK_THAT(fault_after_next(lane), Catch::Contains("outside the ring"));
  }
  SECTION("an unknown kind") {
    put_header(lane, 0, 0, 77);
    publish(lane, 16);
    CHECK_THAT(fault_after_next(lane), Catch::Contains("unknown frame kind 77"));
  }
  SECTION("a length past the lane's limit") {
    put_header(lane, 0, 1u << 30, static_cast<std::uint16_t>(FrameKind::message));
    publish(lane, 1024);
    CHECK_THAT(fault_after_next(lane), Catch::Contains("exceeds the lane's limit"));
  }
  SECTION("a frame longer than what was published") {
    put_header(lane, 0, 100, static_cast<std::uint16_t>(FrameKind::message));
    publish(lane, 32);
    CHECK_THAT(fault_after_next(lane), Catch::Contains("runs past the published data"));
  }
  SECTION("a wrap frame at the ring's start") {
    put_header(lane, 0, 0, static_cast<std::uint16_t>(FrameKind::wrap));
    publish(lane, 16);
    CHECK_THAT(fault_after_next(lane), Catch::Contains("wrap frame"));
  }
  SECTION("a frame that crosses the ring's end") {
    advance_to(lane, kMinLaneCapacity - 32, kMinLaneCapacity);
    put_header(lane, kMinLaneCapacity - 32, 64, static_cast<std::uint16_t>(FrameKind::message));
    publish(lane, kMinLaneCapacity - 32 + 80);
    CHECK_THAT(fault_after_next(lane), Catch::Contains("crosses the end of the ring"));
  }
}

TEST_CASE("random garbage in a lane never crashes the consumer", "[unit][lane]") {
  std::mt19937_64 random(1234);
  int corrupt = 0;
  for (int round = 0; round < 2000; ++round) {
    LaneFixture lane;
    for (std::size_t i = 0; i < kMinLaneCapacity; i += 8) {
      const std::uint64_t word = random();
      std::memcpy(lane.ring() + i, &word, sizeof word);
    }
    // Sometimes a plausible index, sometimes anything.
    publish(lane, round % 2 == 0 ? (random() % (kMinLaneCapacity / 8)) * 8 : random());
    LaneReader::Frame frame{};
    for (int step = 0; step < 64; ++step) {
      const auto next = lane.reader.next(frame);
      if (next != LaneReader::Next::frame) {
        corrupt += next == LaneReader::Next::corrupt;
        break;
      }
      // Anything handed out lies inside the ring.
      CHECK(frame.payload.data() >= lane.ring());
      CHECK(frame.payload.data() + frame.payload.size() <= lane.ring() + kMinLaneCapacity);
      lane.reader.consume();
    }
  }
  CHECK(corrupt > 1000);
}

TEST_CASE("a lane with a foreign header is refused", "[unit][lane]") {
  LaneFixture lane;
  SECTION("bad magic") {
    lane.header().magic = 0;
    CHECK_THROWS_WITH(LaneReader(lane.segment.data(), lane.segment.size()),
                      Catch::Contains("not a lane"));
  }
  SECTION("a capacity bigger than the segment") {
    lane.header().capacity = 1u << 20;
    CHECK_THROWS_WITH(LaneReader(lane.segment.data(), lane.segment.size()),
                      Catch::Contains("cannot hold"));
  }
  SECTION("a misaligned capacity") {
    lane.header().capacity = kMinLaneCapacity - 4;
    CHECK_THROWS_AS(LaneReader(lane.segment.data(), lane.segment.size()), Error);
  }
}

// The producer's reclaim walk (for_each_unconsumed) over a lane whose
// consumer is hostile: it owns the read index and maps the ring writable.
namespace {

struct Visited {
  std::vector<std::vector<std::byte>> payloads;
};

Visited walk(LaneFixture& lane) {
  Visited visited;
  lane.writer.for_each_unconsumed([&](FrameKind kind, std::span<const std::byte> payload) {
    CHECK((kind == FrameKind::message || kind == FrameKind::control ||
           kind == FrameKind::out_of_line));
    visited.payloads.emplace_back(payload.begin(), payload.end());
  });
  return visited;
}

void write_frames(LaneFixture& lane, int count, std::size_t size) {
  for (int i = 0; i < count; ++i) {
    REQUIRE(lane.writer.try_write(FrameKind::message, 0, 1, pattern(size, i)));
  }
}

}  // namespace

TEST_CASE("the reclaim walk visits exactly the frames not consumed", "[unit][lane]") {
  LaneFixture lane;
  advance_to(lane, kMinLaneCapacity - 200, kMinLaneCapacity);  // so the frames wrap
  write_frames(lane, 6, 100);
  LaneReader::Frame frame{};
  REQUIRE(lane.reader.next(frame) == LaneReader::Next::frame);
  lane.reader.consume();
  const Visited visited = walk(lane);
  REQUIRE(visited.payloads.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(same_bytes(visited.payloads[i], pattern(100, i + 1)));
}

TEST_CASE("a hostile consumer cannot make the reclaim walk read outside its frames",
          "[unit][lane]") {
  LaneFixture lane;
  write_frames(lane, 4, 40);
  const std::uint64_t written = lane.writer.written();
  SECTION("a read index that is not aligned") {
    lane.header().read_index.store(21);
    CHECK(walk(lane).payloads.empty());
  }
  SECTION("a read index past the write index") {
    lane.header().read_index.store(written + 8);
    CHECK(walk(lane).payloads.empty());
  }
  SECTION("a read index more than a capacity behind") {
    for (int i = 0; i < 200; ++i) {  // the consumer keeps up, far past one capacity
      LaneReader::Frame frame{};
      REQUIRE(lane.reader.next(frame) == LaneReader::Next::frame);
      lane.reader.consume();
      write_frames(lane, 1, 40);
    }
    REQUIRE(lane.writer.written() > 2 * kMinLaneCapacity);
    lane.header().read_index.store(0);
    CHECK(walk(lane).payloads.empty());
  }
  SECTION("a frame's length rewritten past the ring") {
    std::uint32_t huge = 0xfffffff0;
    std::memcpy(lane.ring() + frame_bytes(40), &huge, sizeof huge);  // the second frame
    const Visited visited = walk(lane);
    REQUIRE(visited.payloads.size() == 1);  // stops at the first bad frame
    CHECK(same_bytes(visited.payloads[0], pattern(40, 0)));
  }
  SECTION("a frame's kind rewritten") {
    std::uint16_t kind = 99;
    std::memcpy(lane.ring() + 4, &kind, sizeof kind);
    CHECK(walk(lane).payloads.empty());
  }
  SECTION("a wrap marker planted at the start") {
    std::uint16_t kind = static_cast<std::uint16_t>(FrameKind::wrap);
    std::memcpy(lane.ring() + 4, &kind, sizeof kind);
    CHECK(walk(lane).payloads.empty());
  }
}

TEST_CASE("random garbage in a lane never crashes the reclaim walk", "[unit][lane]") {
  std::mt19937_64 random(4321);
  std::size_t most_visited = 0;
  for (int round = 0; round < 2000; ++round) {
    LaneFixture lane;
    // Fill most of the ring with real frames so the write index is ours...
    write_frames(lane, static_cast<int>(random() % 30), 1 + random() % 100);
    // ...then let the consumer rewrite everything it can.
    for (std::size_t i = 0; i < kMinLaneCapacity; i += 8) {
      const std::uint64_t word = random();
      if (random() % 4 == 0) std::memcpy(lane.ring() + i, &word, sizeof word);
    }
    lane.header().read_index.store(round % 2 == 0 ? (random() % (kMinLaneCapacity / 8)) * 8 : random());
    const Visited visited = walk(lane);
    // Every frame takes at least a header: no more frames than fit the ring.
    CHECK(visited.payloads.size() <= kMinLaneCapacity / sizeof(FrameHeader));
    for (const auto& payload : visited.payloads) CHECK(payload.size() <= max_inline_payload(kMinLaneCapacity));
    most_visited = std::max(most_visited, visited.payloads.size());
  }
  CHECK(most_visited > 0);
}
