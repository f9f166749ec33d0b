// A checked copy of another isolate's doorbell (transport/doorbell.hpp), for
// tools that look at isolates from outside: isolated-ps.
//
// The doorbell is written by its owner, which may be a hostile or broken
// worker, and its slot table by every producer. So the bytes are copied first
// (SegmentReader: no mapping, no SIGBUS) and every field is checked against
// the layout and the size of the copy before it is used. A header that does
// not hold up makes the whole doorbell unreadable (an Error naming what is
// wrong); a slot that does not hold up is only marked, because any producer
// can spoil a slot of an honest owner.
#pragma once

#include "doorbell.hpp"
#include "common/src/shm/segment_reader.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace isolated::detail {

// The most bytes a doorbell of this layout can occupy; a bigger segment is
// read only that far.
inline constexpr std::size_t kMaxDoorbellBytes = doorbell_bytes(kMaxSlotCount);

struct LaneSlotSnapshot {
  std::uint32_t index = 0;
  SlotState state = SlotState::free;
  int producer_pid = 0;
  // The lane segment's name; empty when the slot is malformed or still
  // `claimed` (its producer is writing the name).
  std::string lane_name;
  // Its state, pid or name length is out of range (a producer wrote garbage).
  bool malformed = false;
};

struct DoorbellSnapshot {
  int owner_pid = 0;
  int root_pid = 0;
  int parent_pid = 0;  // 0 for a root isolate
  InboxState state = InboxState::starting;
  std::string debug_name;  // raw bytes as the owner wrote them: sanitize before printing
  std::uint32_t slot_count = 0;
  std::vector<LaneSlotSnapshot> registered_slots;  // every slot that is not free
  bool has_crash_report = false;
};

// Checks and decodes a copy of a doorbell segment's bytes (at most
// kMaxDoorbellBytes of them). Throws isolated::Error naming the first thing
// that is wrong: too short, bad magic or version, a slot count the bytes
// cannot hold, pids or state or name length out of range.
DoorbellSnapshot parse_doorbell_snapshot(std::span<const std::byte> bytes);

// Reads the doorbell segment `segment` (up to kMaxDoorbellBytes) and parses
// it. Throws isolated::Error as parse_doorbell_snapshot, or if reading fails.
DoorbellSnapshot read_doorbell_snapshot(const SegmentReader& segment);

}  // namespace isolated::detail
