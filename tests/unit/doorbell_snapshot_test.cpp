// Reading another isolate's doorbell from outside (isolated-ps): a faithful
// copy of a good one, and an Error, never a crash or a read out of bounds,
// for any truncation or corruption of its bytes.
#include <catch2/catch.hpp>

#include "common/src/shm/names.hpp"
#include "common/src/shm/segment.hpp"
#include "common/src/shm/segment_reader.hpp"
#include "common/src/transport/doorbell_snapshot.hpp"

#include <isolated/error.hpp>

#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace isolated;
using namespace isolated::detail;

namespace {

constexpr std::uint32_t kSlots = 8;

// A doorbell laid out by its owner's own code, named "reader" and with two
// lanes registered: slot 0 as a producer leaves it, slot 1 attached.
struct OwnedDoorbell {
  Segment segment = Segment::create(SegmentKind::inbox, doorbell_bytes(kSlots));
  DoorbellHeader* header =
      initialize_doorbell(segment.data(), kSlots, static_cast<int>(::getpid()));
  std::string first_lane = make_segment_name(SegmentKind::lane);
  std::string second_lane = make_segment_name(SegmentKind::lane);

  OwnedDoorbell() {
    header->parent_pid = 4242;
    header->state.store(static_cast<std::uint32_t>(InboxState::alive));
    std::memcpy(header->debug_name, "reader", 6);
    header->debug_name_length = 6;
    REQUIRE(register_lane(*header, kSlots, first_lane, 1111) == 0u);
    REQUIRE(register_lane(*header, kSlots, second_lane, 2222) == 1u);
    doorbell_slots(header)[1].state.store(static_cast<std::uint32_t>(SlotState::attached));
  }

  std::vector<std::byte> bytes() const {
    return std::vector<std::byte>(segment.data(), segment.data() + segment.size());
  }
};

}  // namespace

TEST_CASE("a doorbell read from outside matches what its owner wrote", "[unit][doorbell]") {
  OwnedDoorbell owned;
  const DoorbellSnapshot doorbell =
      read_doorbell_snapshot(SegmentReader::open(owned.segment.name()));
  CHECK(doorbell.owner_pid == ::getpid());
  CHECK(doorbell.root_pid == session_root_pid());
  CHECK(doorbell.parent_pid == 4242);
  CHECK(doorbell.state == InboxState::alive);
  CHECK(doorbell.debug_name == "reader");
  CHECK(doorbell.slot_count == kSlots);
  CHECK_FALSE(doorbell.has_crash_report);
  REQUIRE(doorbell.registered_slots.size() == 2);
  CHECK(doorbell.registered_slots[0].index == 0);
  CHECK(doorbell.registered_slots[0].state == SlotState::ready);
  CHECK(doorbell.registered_slots[0].producer_pid == 1111);
  CHECK(doorbell.registered_slots[0].lane_name == owned.first_lane);
  CHECK(doorbell.registered_slots[1].state == SlotState::attached);
  CHECK(doorbell.registered_slots[1].lane_name == owned.second_lane);
  CHECK_FALSE(doorbell.registered_slots[1].malformed);
}

TEST_CASE("every truncation of a doorbell is refused", "[unit][doorbell]") {
  const OwnedDoorbell owned;
  const auto bytes = owned.bytes();
  for (std::size_t length = 0; length < doorbell_bytes(kSlots); length += 8) {
    // A buffer of exactly `length` bytes, so that ASan sees any read past it.
    const std::vector<std::byte> copy(bytes.begin(),
                                      bytes.begin() + static_cast<std::ptrdiff_t>(length));
    CHECK_THROWS_AS(parse_doorbell_snapshot(copy), Error);
  }
  CHECK_NOTHROW(parse_doorbell_snapshot(bytes));
}

TEST_CASE("a doorbell with random bytes spoiled is refused or read within bounds",
          "[unit][doorbell]") {
  const OwnedDoorbell owned;
  const auto good = owned.bytes();
  std::mt19937_64 random(7);
  // Spoil the header and the slots far more often than the crash area, where
  // nothing is read but its state.
  const std::size_t interesting = kDoorbellSlotsOffset + 3 * sizeof(LaneSlot);
  for (int round = 0; round < 20000; ++round) {
    auto bytes = good;
    const int spoiled = 1 + static_cast<int>(random() % 6);
    for (int i = 0; i < spoiled; ++i) {
      const std::size_t at = random() % 4 == 0 ? random() % bytes.size() : random() % 64;
      const std::size_t slot_at =
          kDoorbellSlotsOffset + random() % (interesting - kDoorbellSlotsOffset);
      bytes[random() % 2 == 0 ? at : slot_at] = static_cast<std::byte>(random());
    }
    try {
      const DoorbellSnapshot doorbell = parse_doorbell_snapshot(bytes);
      REQUIRE(doorbell.slot_count >= 1);
      REQUIRE(doorbell_bytes(doorbell.slot_count) <= bytes.size());
      REQUIRE(doorbell.debug_name.size() <= kMaxDebugNameBytes);
      REQUIRE(doorbell.owner_pid > 0);
      for (const auto& slot : doorbell.registered_slots) {
        REQUIRE(slot.index < doorbell.slot_count);
        if (!slot.lane_name.empty()) REQUIRE(parse_segment_name(slot.lane_name));
      }
    } catch (const Error&) {
      // refused: fine
    }
  }
}

TEST_CASE("a segment reader opens only this project's names, read-only", "[unit][doorbell]") {
  CHECK_THROWS_AS(SegmentReader::open("/etc-passwd"), Error);
  CHECK_THROWS_AS(SegmentReader::open("/isolated.1.0123456789abcdef.inbox/../x"), Error);
  CHECK_THROWS_AS(SegmentReader::open(make_segment_name(SegmentKind::inbox)), Error);  // none such

  const OwnedDoorbell owned;
  const SegmentReader reader = SegmentReader::open(owned.segment.name());
  CHECK(reader.size() == owned.segment.size());
  std::byte past_the_end[16];
  CHECK(reader.read_at(reader.size() - 8, past_the_end) == 8);
  CHECK_THROWS_AS(reader.read_exactly(reader.size() - 8, past_the_end), Error);
}
