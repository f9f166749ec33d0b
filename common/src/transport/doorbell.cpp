#include "doorbell.hpp"

#include "common/src/os/asymmetric_fence.hpp"
#include "common/src/os/futex.hpp"

#include <isolated/error.hpp>

#include <atomic>
#include <climits>
#include <cstring>
#include <new>

namespace isolated::detail {

DoorbellHeader* initialize_doorbell(std::byte* memory, std::uint32_t slot_count, int owner_pid) {
  auto* header = new (memory) DoorbellHeader{};
  header->magic = kDoorbellMagic;
  header->layout_version = kDoorbellLayoutVersion;
  header->slot_count = slot_count;
  header->owner_pid = owner_pid;
  header->root_pid = session_root_pid();
  // The slots stay untouched: zero-filled, they are free, and pages nobody
  // touches cost nothing.
  static_assert(static_cast<std::uint32_t>(SlotState::free) == 0);
  return header;
}

DoorbellHeader* checked_doorbell(std::byte* memory, std::size_t segment_size) {
  if (segment_size < kDoorbellSlotsOffset) {
    throw TransportError("inbox segment of " + std::to_string(segment_size) + " bytes is too small");
  }
  auto* header = std::launder(reinterpret_cast<DoorbellHeader*>(memory));
  if (header->magic != kDoorbellMagic || header->layout_version != kDoorbellLayoutVersion) {
    throw TransportError("segment is not an inbox of this layout version (bad magic or version)");
  }
  const std::uint32_t slot_count = header->slot_count;
  if (slot_count == 0 || slot_count > kMaxSlotCount ||
      doorbell_bytes(slot_count) > segment_size) {
    throw TransportError("inbox declares " + std::to_string(slot_count) +
                " lane slots that its segment cannot hold");
  }
  return header;
}

MappedDoorbell MappedDoorbell::check(Segment segment) {
  MappedDoorbell doorbell;
  doorbell.header = checked_doorbell(segment.data(), segment.size());
  // Read once more and kept: the owner could change the header's copy after
  // the check, so the count is checked again as it is kept.
  doorbell.slot_count = doorbell.header->slot_count;
  if (doorbell.slot_count == 0 || doorbell.slot_count > kMaxSlotCount ||
      doorbell_bytes(doorbell.slot_count) > segment.size()) {
    throw TransportError("inbox changed its lane slot count while being checked");
  }
  doorbell.segment = std::move(segment);
  return doorbell;
}

MappedDoorbell open_doorbell(std::string_view inbox_name) {
  return MappedDoorbell::check(Segment::open(inbox_name, SegmentKind::inbox, kDoorbellSlotsOffset));
}

void ring_doorbell(DoorbellHeader& header, bool light) noexcept {
  // Pairs with the fence in Inbox::park (see doorbell.hpp).
  if (light) {
    light_fence();
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  if (header.sleeping_consumers.load(std::memory_order_relaxed) != 0) {
    header.bell.fetch_add(1, std::memory_order_release);
    futex_wake(header.bell, INT_MAX);
  }
}

std::optional<std::uint32_t> register_lane(DoorbellHeader& header, std::uint32_t slot_count,
                                           std::string_view lane_name, int pid) noexcept {
  if (lane_name.size() > kMaxSegmentNameBytes) return std::nullopt;
  LaneSlot* slots = doorbell_slots(&header);
  for (std::uint32_t i = 0; i < slot_count; ++i) {
    // free -> claimed by compare-and-swap, so two producers never take one slot.
    auto expected = static_cast<std::uint32_t>(SlotState::free);
    if (!slots[i].state.compare_exchange_strong(expected,
                                                static_cast<std::uint32_t>(SlotState::claimed),
                                                std::memory_order_acq_rel)) {
      continue;
    }
    // Raised before `ready` is published: a consumer that sees the new
    // registration count sees this slot within its scan.
    std::uint32_t used = header.slots_used.load(std::memory_order_relaxed);
    while (used < i + 1 &&
           !header.slots_used.compare_exchange_weak(used, i + 1, std::memory_order_release)) {
    }
    slots[i].producer_pid = pid;
    slots[i].producer_done.store(0, std::memory_order_relaxed);
    slots[i].name_length = static_cast<std::uint32_t>(lane_name.size());
    std::memcpy(slots[i].lane_name, lane_name.data(), lane_name.size());
    // Release: the pid and name are visible to whoever sees `ready`.
    slots[i].state.store(static_cast<std::uint32_t>(SlotState::ready), std::memory_order_release);
    header.registrations.fetch_add(1, std::memory_order_release);
    ring_doorbell(header);
    return i;
  }
  return std::nullopt;
}

}  // namespace isolated::detail
