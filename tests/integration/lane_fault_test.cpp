// A hostile producer process that writes garbage into its own lane: the
// receiver closes that lane, names the producer, never crashes, and keeps
// serving the other lanes (DESIGN §3.2).
#include <catch2/catch.hpp>

#include "common/src/transport/out_of_line.hpp"
#include "support/forked_process.hpp"
#include "support/transport_helpers.hpp"

#include <isolated/message.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

using namespace isolated;
using namespace isolated::detail;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

// What the hostile producer puts in its lane after registering it like any
// other producer.
enum class Garbage { random_bytes, length_past_end, bad_kind, index_past_ring, foreign_out_of_line };

// Runs in the hostile child. Returns 0 once the receiver reacted as it should.
int misbehave(const std::string& inbox_name, Garbage garbage) {
  Segment doorbell = Segment::open(inbox_name, SegmentKind::inbox);
  DoorbellHeader* header = checked_doorbell(doorbell.data(), doorbell.size());
  const std::uint32_t capacity = kMinLaneCapacity;
  Segment lane = Segment::create(SegmentKind::lane, lane_segment_bytes(capacity));
  LaneWriter::initialize(lane.data(), capacity, static_cast<int>(::getpid()));
  auto* lane_header = reinterpret_cast<LaneHeader*>(lane.data());
  std::byte* ring = lane.data() + kLaneRingOffset;

  std::uint64_t write_index = 0;
  const auto put = [&](std::uint32_t length, std::uint16_t kind, std::span<const std::byte> body) {
    const FrameHeader frame{length, kind, 0, 1};
    std::memcpy(ring + write_index, &frame, sizeof frame);
    if (!body.empty()) std::memcpy(ring + write_index + sizeof frame, body.data(), body.size());
    write_index += frame_bytes(body.size());
  };
  switch (garbage) {
    case Garbage::random_bytes: {
      std::mt19937_64 random(static_cast<std::uint64_t>(::getpid()));
      for (std::size_t i = 0; i < capacity; i += 8) {
        const std::uint64_t word = random() | (0xff00ULL << 32);  // kind >= 0xff00: never valid
        std::memcpy(ring + i, &word, 8);
      }
      write_index = 512;
      break;
    }
    case Garbage::length_past_end: put(1u << 31, static_cast<std::uint16_t>(FrameKind::message), {}); break;
    case Garbage::bad_kind: put(0, 0xbad, {}); break;
    case Garbage::index_past_ring: write_index = 1ull << 40; break;
    case Garbage::foreign_out_of_line: {
      // An out-of-line reference to the receiver's own inbox: it must neither
      // map it as a message nor unlink it. Then one good frame.
      OutOfLineRef ref{};
      ref.size = 16;
      ref.inner_kind = static_cast<std::uint16_t>(FrameKind::message);
      ref.name_length = static_cast<std::uint32_t>(inbox_name.size());
      std::memcpy(ref.name, inbox_name.data(), inbox_name.size());
      put(sizeof ref, static_cast<std::uint16_t>(FrameKind::out_of_line), std::as_bytes(std::span(&ref, 1)));
      const auto good = stream_payload(2, 0, 64);
      put(static_cast<std::uint32_t>(good.size()), static_cast<std::uint16_t>(FrameKind::message), good);
      break;
    }
  }
  lane_header->write_index.store(write_index, std::memory_order_release);
  const auto slot = register_lane(*header, header->slot_count, lane.name(), static_cast<int>(::getpid()));
  if (!slot) return 3;
  lane.release_name();

  // Wait for the receiver's verdict: our slot closed, or (for the frame it
  // only drops) our lane drained.
  LaneSlot& our_slot = doorbell_slots(header)[*slot];
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const bool closed = our_slot.state.load() == static_cast<std::uint32_t>(SlotState::closed);
    const bool drained = lane_header->read_index.load() == write_index;
    if (garbage == Garbage::foreign_out_of_line ? drained && !closed : closed) return 0;
    std::this_thread::sleep_for(5ms);
  }
  return 4;
}

}  // namespace

TEST_CASE("garbage in one lane closes only that lane and names its producer",
          "[integration][lane-fault]") {
  const auto [garbage, expected_reason] = GENERATE(
      std::pair{Garbage::random_bytes, "unknown frame kind"},
      std::pair{Garbage::length_past_end, "exceeds the lane's limit"},
      std::pair{Garbage::bad_kind, "unknown frame kind 2989"},
      std::pair{Garbage::index_past_ring, "outside the ring"},
      std::pair{Garbage::foreign_out_of_line, "out-of-line message lost"});
  CAPTURE(expected_reason);

  std::vector<LaneFault> faults;
  Inbox::Options options;
  options.slot_count = 8;
  options.on_lane_fault = [&](const LaneFault& f) { faults.push_back(f); };
  Inbox inbox(options);
  const std::uint64_t count = 3000;
  const std::size_t max_size = 500;
  auto honest = ForkedProcess::start([&] { return produce(inbox.name(), 1, count, max_size); });
  auto hostile = ForkedProcess::start([&, garbage = garbage] { return misbehave(inbox.name(), garbage); });

  StreamChecker checker(3, std::max<std::size_t>(max_size, 64));
  std::size_t from_hostile = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while ((checker.received(1) < count || faults.empty()) &&
         std::chrono::steady_clock::now() < deadline) {
    inbox.wait(50ms);
    inbox.drain([&](Delivery&& d) {
      if (d.producer_pid == hostile.pid()) {
        ++from_hostile;
        CHECK(d.flags == 0);  // the one good frame of the out-of-line case
      } else {
        checker.check(d.flags, d.port, d.bytes);
      }
    });
  }
  INFO(checker.error());
  CHECK(checker.error().empty());
  CHECK(checker.received(1) == count);
  REQUIRE(faults.size() == 1);
  CHECK(faults[0].producer_pid == hostile.pid());
  CHECK_THAT(faults[0].reason, Catch::Contains(expected_reason));
  CHECK(faults[0].lane_closed == (garbage != Garbage::foreign_out_of_line));
  CHECK(from_hostile == (garbage == Garbage::foreign_out_of_line ? 1u : 0u));
  CHECK(hostile.exit_code() == 0);
  CHECK(honest.exit_code() == 0);
  // The receiver's own inbox survived every attack.
  CHECK(Segment::open(inbox.name(), SegmentKind::inbox).valid());
}

TEST_CASE("a sender that rewrites and shrinks a large message while it is received cannot "
          "crash the receiver",
          "[integration][lane-fault]") {
  // The receiver copies an out-of-line message with pread before it parses
  // it: it gets the bytes as it copied them (a message, or a decode error),
  // or too few of them (the message is reported lost), never a fault.
  constexpr int kFrames = 200;
  constexpr std::size_t kSize = 1 << 20;
  std::vector<LaneFault> faults;
  Inbox::Options options;
  options.on_lane_fault = [&](const LaneFault& f) { faults.push_back(f); };
  Inbox inbox(options);
  auto hostile = ForkedProcess::start([&] {
    OutOfLineSegment segment(2 * kSize);
    std::vector<std::byte> message;
    detail::encode(std::vector<std::uint8_t>(kSize - 16, 7), message);
    segment.write(message);
    Segment doorbell = Segment::open(inbox.name(), SegmentKind::inbox);
    DoorbellHeader* header = checked_doorbell(doorbell.data(), doorbell.size());
    Segment lane = Segment::create(SegmentKind::lane, lane_segment_bytes(kMinLaneCapacity * 4));
    LaneWriter::initialize(lane.data(), kMinLaneCapacity * 4, static_cast<int>(::getpid()));
    LaneWriter writer(lane.data());
    if (!register_lane(*header, header->slot_count, lane.name(), static_cast<int>(::getpid()))) return 3;
    lane.release_name();
    // Scribbles on the segment and shrinks it, all the while.
    std::atomic<bool> stop{false};
    std::thread vandal([&] {
      std::mt19937_64 random(5);
      const int fd = ::shm_open(shm_object_name(segment.name()).c_str(), O_RDWR, 0);
      std::vector<std::byte> noise(4096, std::byte{0xc1});  // never valid msgpack
      while (!stop.load()) {
        if (random() % 2 == 0) {
          (void)::ftruncate(fd, static_cast<off_t>(random() % (2 * kSize)));
        } else {
          (void)::pwrite(fd, noise.data(), noise.size(), static_cast<off_t>(random() % kSize));
        }
      }
      ::close(fd);
    });
    OutOfLineRef ref{};
    ref.size = message.size();
    ref.inner_kind = static_cast<std::uint16_t>(FrameKind::message);
    ref.flags = kOutOfLineRecycled;
    ref.name_length = static_cast<std::uint32_t>(segment.name().size());
    std::memcpy(ref.name, segment.name().data(), segment.name().size());
    for (int i = 0; i < kFrames; ++i) {
      writer.write(FrameKind::out_of_line, 0, static_cast<std::uint64_t>(i),
                   std::as_bytes(std::span(&ref, 1)), [] { return true; });
      ring_doorbell(*header);
      std::this_thread::sleep_for(200us);
    }
    while (!writer.drained()) std::this_thread::sleep_for(1ms);
    stop.store(true);
    vandal.join();
    return 0;
  });

  int decoded = 0;
  int rejected = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (decoded + rejected + static_cast<int>(faults.size()) < kFrames &&
         std::chrono::steady_clock::now() < deadline) {
    inbox.wait(50ms);
    inbox.drain([&](Delivery&& d) {
      try {
        const Message message = Message::decode(d.bytes, d.owner);
        (void)message.as<std::span<const std::byte>>();
        ++decoded;
      } catch (const Error&) {
        ++rejected;
      }
    });
  }
  INFO(decoded << " decoded, " << rejected << " rejected, " << faults.size() << " lost");
  CHECK(decoded + rejected + static_cast<int>(faults.size()) == kFrames);
  for (const auto& fault : faults) {
    CHECK_FALSE(fault.lane_closed);
    CHECK_THAT(fault.reason, Catch::Contains("out-of-line message lost"));
  }
  CHECK(hostile.exit_code() == 0);
  inbox.release_lanes_of(hostile.pid());
}
