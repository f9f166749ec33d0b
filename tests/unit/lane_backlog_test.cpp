// Counting what a lane holds from outside (isolated-ps): frames published and
// not consumed, across a wrap; an Error, never a crash, for a lane whose
// header, indices or frames do not hold up.
#include <catch2/catch.hpp>

#include "common/src/shm/segment_reader.hpp"
#include "common/src/transport/lane_backlog.hpp"
#include "support/lane_fixture.hpp"

#include <isolated/error.hpp>

#include <cstring>

using namespace isolated;
using namespace isolated::detail;
using isolated::test::LaneFixture;
using isolated::test::pattern;

namespace {

LaneBacklog backlog_of(LaneFixture& lane) {
  return read_lane_backlog(SegmentReader::open(lane.segment.name()));
}

void write_frames(LaneFixture& lane, int count, std::size_t size) {
  for (int i = 0; i < count; ++i) {
    REQUIRE(lane.writer.try_write(FrameKind::message, 0, 1,
                                  pattern(size, static_cast<std::uint64_t>(i))));
  }
}

void consume_frames(LaneFixture& lane, int count) {
  for (int i = 0; i < count; ++i) {
    LaneReader::Frame frame{};
    REQUIRE(lane.reader.next(frame) == LaneReader::Next::frame);
    lane.reader.consume();
  }
}

std::uint64_t unconsumed_bytes(LaneFixture& lane) {
  return lane.header().write_index.load() - lane.header().read_index.load();
}

}  // namespace

TEST_CASE("a lane's backlog counts the frames not consumed yet", "[unit][lane]") {
  LaneFixture lane;
  CHECK(backlog_of(lane).frames == 0);
  CHECK(backlog_of(lane).bytes == 0);

  write_frames(lane, 5, 100);
  CHECK(backlog_of(lane).frames == 5);
  CHECK(backlog_of(lane).bytes == 5 * frame_bytes(100));

  consume_frames(lane, 2);
  CHECK(backlog_of(lane).frames == 3);
  CHECK(backlog_of(lane).bytes == 3 * frame_bytes(100));
}

TEST_CASE("a lane's backlog is counted across the ring's end", "[unit][lane]") {
  LaneFixture lane;
  const std::size_t size = 600;  // 616-byte frames: 6 fill 3696 of 4096 bytes
  write_frames(lane, 6, size);
  consume_frames(lane, 6);
  write_frames(lane, 3, size);  // the first of these wraps
  const LaneBacklog backlog = backlog_of(lane);
  CHECK(backlog.frames == 3);
  CHECK(backlog.bytes == unconsumed_bytes(lane));
  CHECK(backlog.bytes > 3 * frame_bytes(size));  // the skipped gap is in flight too
}

TEST_CASE("a lane whose header, indices or frames do not hold up is refused", "[unit][lane]") {
  SECTION("bad magic") {
    LaneFixture lane;
    lane.header().magic = 1;
    CHECK_THROWS_AS(backlog_of(lane), Error);
  }
  SECTION("a capacity bigger than the segment") {
    LaneFixture lane;
    lane.header().capacity = 1u << 20;
    CHECK_THROWS_AS(backlog_of(lane), Error);
  }
  SECTION("a write index past a whole ring") {
    LaneFixture lane;
    lane.header().write_index.store(kMinLaneCapacity + 64);
    CHECK_THROWS_AS(backlog_of(lane), Error);
  }
  SECTION("a frame of an unknown kind") {
    LaneFixture lane;
    write_frames(lane, 2, 32);
    FrameHeader spoiled{};
    std::memcpy(&spoiled, lane.ring() + frame_bytes(32), sizeof spoiled);
    spoiled.kind = 99;
    std::memcpy(lane.ring() + frame_bytes(32), &spoiled, sizeof spoiled);
    CHECK_THROWS_AS(backlog_of(lane), Error);
  }
  SECTION("a frame longer than what was published") {
    LaneFixture lane;
    write_frames(lane, 1, 32);
    FrameHeader spoiled{};
    std::memcpy(&spoiled, lane.ring(), sizeof spoiled);
    spoiled.length = 512;
    std::memcpy(lane.ring(), &spoiled, sizeof spoiled);
    CHECK_THROWS_AS(backlog_of(lane), Error);
  }
}
