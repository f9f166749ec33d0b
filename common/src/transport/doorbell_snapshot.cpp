#include "doorbell_snapshot.hpp"

#include "common/src/shm/names.hpp"

#include <isolated/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace isolated::detail {
namespace {

// Fields are copied out of the bytes by offset: the copy is not a
// DoorbellHeader object (its atomics are not trivially copyable), and this way
// no alignment or lifetime is assumed about a buffer of bytes.
template <class T>
T field_at(std::span<const std::byte> bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

LaneSlotSnapshot parse_slot(std::span<const std::byte> bytes, std::uint32_t index) {
  const std::size_t base = kDoorbellSlotsOffset + std::size_t{index} * sizeof(LaneSlot);
  LaneSlotSnapshot slot;
  slot.index = index;
  const auto state = field_at<std::uint32_t>(bytes, base + offsetof(LaneSlot, state));
  slot.producer_pid = field_at<std::int32_t>(bytes, base + offsetof(LaneSlot, producer_pid));
  if (state > static_cast<std::uint32_t>(SlotState::closed)) {
    slot.malformed = true;
    return slot;
  }
  slot.state = static_cast<SlotState>(state);
  // A claimed slot is being written by its producer: its name is not there yet.
  if (slot.state == SlotState::free || slot.state == SlotState::claimed) return slot;

  const auto length = field_at<std::uint32_t>(bytes, base + offsetof(LaneSlot, name_length));
  if (slot.producer_pid <= 0 || length == 0 || length > sizeof(LaneSlot::lane_name)) {
    slot.malformed = true;
    return slot;
  }
  std::string name(length, '\0');
  std::memcpy(name.data(), bytes.data() + base + offsetof(LaneSlot, lane_name), length);
  const auto parsed = parse_segment_name(name);
  if (!parsed || parsed->kind != SegmentKind::lane) {
    slot.malformed = true;
    return slot;
  }
  slot.lane_name = std::move(name);
  return slot;
}

}  // namespace

DoorbellSnapshot parse_doorbell_snapshot(std::span<const std::byte> bytes) {
  if (bytes.size() < kDoorbellSlotsOffset) {
    throw TransportError("truncated: " + std::to_string(bytes.size()) + " bytes, a doorbell header needs " +
                std::to_string(kDoorbellSlotsOffset));
  }
  if (field_at<std::uint64_t>(bytes, offsetof(DoorbellHeader, magic)) != kDoorbellMagic) {
    throw TransportError("bad magic: not a doorbell");
  }
  const auto version = field_at<std::uint32_t>(bytes, offsetof(DoorbellHeader, layout_version));
  if (version != kDoorbellLayoutVersion) {
    throw TransportError("layout version " + std::to_string(version) + ", this build reads version " +
                std::to_string(kDoorbellLayoutVersion));
  }

  DoorbellSnapshot doorbell;
  doorbell.slot_count = field_at<std::uint32_t>(bytes, offsetof(DoorbellHeader, slot_count));
  if (doorbell.slot_count == 0 || doorbell.slot_count > kMaxSlotCount ||
      doorbell_bytes(doorbell.slot_count) > bytes.size()) {
    throw TransportError("declares " + std::to_string(doorbell.slot_count) + " lane slots, which " +
                std::to_string(bytes.size()) + " bytes cannot hold");
  }

  doorbell.owner_pid = field_at<std::int32_t>(bytes, offsetof(DoorbellHeader, owner_pid));
  doorbell.root_pid = field_at<std::int32_t>(bytes, offsetof(DoorbellHeader, root_pid));
  doorbell.parent_pid = field_at<std::int32_t>(bytes, offsetof(DoorbellHeader, parent_pid));
  if (doorbell.owner_pid <= 0 || doorbell.root_pid <= 0 || doorbell.parent_pid < 0) {
    throw TransportError("impossible pids: owner " + std::to_string(doorbell.owner_pid) + ", root " +
                std::to_string(doorbell.root_pid) + ", parent " +
                std::to_string(doorbell.parent_pid));
  }

  const auto state = field_at<std::uint32_t>(bytes, offsetof(DoorbellHeader, state));
  if (state > static_cast<std::uint32_t>(InboxState::dead)) {
    throw TransportError("unknown inbox state " + std::to_string(state));
  }
  doorbell.state = static_cast<InboxState>(state);

  const auto name_length =
      field_at<std::uint32_t>(bytes, offsetof(DoorbellHeader, debug_name_length));
  if (name_length > kMaxDebugNameBytes) {
    throw TransportError("debug name of " + std::to_string(name_length) + " bytes, at most " +
                std::to_string(kMaxDebugNameBytes) + " fit");
  }
  doorbell.debug_name.assign(
      reinterpret_cast<const char*>(bytes.data() + offsetof(DoorbellHeader, debug_name)),
      name_length);

  const std::size_t crash_state_offset =
      offsetof(DoorbellHeader, crash) + offsetof(CrashReportArea, state);
  doorbell.has_crash_report = field_at<std::uint32_t>(bytes, crash_state_offset) != 0;

  // Slots at or past `slots_used` were never claimed (any producer can spoil
  // the field: it is clamped, and a low value only hides slots).
  const auto used = std::min(
      doorbell.slot_count, field_at<std::uint32_t>(bytes, offsetof(DoorbellHeader, slots_used)));
  for (std::uint32_t i = 0; i < used; ++i) {
    LaneSlotSnapshot slot = parse_slot(bytes, i);
    if (slot.state != SlotState::free || slot.malformed) {
      doorbell.registered_slots.push_back(std::move(slot));
    }
  }
  return doorbell;
}

DoorbellSnapshot read_doorbell_snapshot(const SegmentReader& segment) {
  std::vector<std::byte> bytes(std::min(segment.size(), kMaxDoorbellBytes));
  bytes.resize(segment.read_at(0, bytes));  // the owner may have shrunk it since
  return parse_doorbell_snapshot(bytes);
}

}  // namespace isolated::detail
