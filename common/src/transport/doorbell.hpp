// The doorbell: the shared-memory segment that makes an isolate's inbox
// findable (DESIGN §3.1). Its owner (the consuming isolate) creates it; every
// process that sends to the inbox maps it to register its lane and to wake the
// owner.
//
// Layout: a header, then `slot_count` lane slots.
//
// Wake-ups (the doorbell proper). The consumer spins briefly, then sleeps on
// `bell`. Producers bump `bell` and call futex_wake only while
// `sleeping_consumers` is non-zero, so a busy consumer costs producers nothing.
// The consumer increments `sleeping_consumers`, loads `bell`, issues a fence
// and looks at its lanes once more; a producer publishes its frame, issues a
// fence and loads `sleeping_consumers`. The two fences guarantee that one side
// sees the other: either the producer sees a sleeper and rings, or the
// consumer sees the frame and does not sleep. A ring that lands between the
// consumer's load of `bell` and its futex_wait makes the wait return at once
// (the word no longer matches).
//
// The fences are asymmetric where the kernel allows (os/asymmetric_fence.hpp):
// a consumer whose process is registered for membarrier says so in
// `consumer_flags`, and its fence before sleeping is a membarrier, which
// executes a full barrier on every running thread of every registered
// process. A registered producer then needs only a compiler barrier per frame,
// so a stream no longer pays a cache-line round trip per frame for it.
//
// Lane registration. A producer claims the lowest free slot (compare-and-swap
// free -> claimed), raises `slots_used` past it, writes its pid and lane name,
// stores `ready` with release, then bumps `registrations` and rings. The
// consumer compares `registrations` with the count it last saw, so the slot
// table is only scanned when it changed, and only up to `slots_used`.
//
// The slot table is large (kDefaultSlotCount: one slot per sending process,
// so an isolate can hear from thousands of others) but costs only what is
// used: a fresh segment is zero-filled tmpfs, zero bytes are a free slot, and
// tmpfs allocates a page only when it is touched. Nobody touches a slot at or
// beyond `slots_used`, and slots are reused lowest first, so the table's
// resident size follows the number of senders at once, not the slot count.
#pragma once

#include "common/src/shm/names.hpp"
#include "common/src/shm/segment.hpp"
#include "common/src/shm/shared_atomic.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace isolated::detail {

enum class InboxState : std::uint32_t { starting = 0, alive = 1, closing = 2, dead = 3 };

enum class SlotState : std::uint32_t {
  free = 0,
  claimed = 1,   // a producer is writing its pid and lane name
  ready = 2,     // published, waiting for the consumer to map the lane
  attached = 3,  // the consumer mapped the lane and unlinked its name
  closed = 4,    // the consumer gave up on the lane (bad frames); senders must stop
};

struct LaneSlot {
  SharedAtomic<std::uint32_t> state;          // a SlotState
  SharedAtomic<std::uint32_t> producer_done;  // set by a producer that closed its lane cleanly
  std::int32_t producer_pid;
  std::uint32_t name_length;
  char lane_name[kMaxSegmentNameBytes];  // not NUL-terminated
};
static_assert(std::is_standard_layout_v<LaneSlot>);

// Filled by the owner's fatal-signal handler, read by its parent after the end.
inline constexpr std::size_t kCrashTextBytes = 8192;
struct CrashReportArea {
  SharedAtomic<std::uint32_t> state;  // 0 empty, 1 being written, 2 complete
  std::int32_t signal;
  std::uint64_t fault_address;
  std::uint32_t text_length;
  std::uint32_t reserved;
  char text[kCrashTextBytes];  // a binary packet: frames and modules (worker/src/crash_report.cpp)
};

inline constexpr std::size_t kMaxDebugNameBytes = 64;

struct DoorbellHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t slot_count;
  std::int32_t owner_pid;
  std::int32_t root_pid;
  std::int32_t parent_pid;  // 0 for a root isolate
  SharedAtomic<std::uint32_t> state;  // an InboxState
  std::uint32_t debug_name_length;
  char debug_name[kMaxDebugNameBytes];  // the owner's debug name, not NUL-terminated
  std::uint32_t consumer_flags;         // kParksWithMembarrier

  alignas(kCacheLine) SharedAtomic<std::uint32_t> bell;  // futex word
  SharedAtomic<std::uint32_t> sleeping_consumers;

  alignas(kCacheLine) SharedAtomic<std::uint32_t> registrations;
  // One past the highest slot ever claimed; producers only raise it. Read by
  // the consumer as a hint, clamped to its own copy of the slot count.
  SharedAtomic<std::uint32_t> slots_used;

  alignas(kCacheLine) CrashReportArea crash;
};
static_assert(std::is_standard_layout_v<DoorbellHeader>);

inline constexpr std::uint64_t kDoorbellMagic = 0x6c6c6542642e736c;  // "ls.dBell"
inline constexpr std::uint32_t kDoorbellLayoutVersion = 4;
// consumer_flags: the consumer's fence before it sleeps is a membarrier.
inline constexpr std::uint32_t kParksWithMembarrier = 1;
// How many processes can send to one inbox at once. The table costs resident
// memory only for the slots in use (see above); its virtual size is
// doorbell_bytes(kDefaultSlotCount), about 1.3 MB.
inline constexpr std::uint32_t kDefaultSlotCount = 16384;
inline constexpr std::uint32_t kMaxSlotCount = 65536;

inline constexpr std::size_t kDoorbellSlotsOffset =
    (sizeof(DoorbellHeader) + kCacheLine - 1) / kCacheLine * kCacheLine;

constexpr std::size_t doorbell_bytes(std::uint32_t slot_count) noexcept {
  return kDoorbellSlotsOffset + slot_count * sizeof(LaneSlot);
}

// Lays out a doorbell in zero-filled memory of doorbell_bytes(slot_count)
// bytes. The slots are left as they are: zero bytes are a free slot.
DoorbellHeader* initialize_doorbell(std::byte* memory, std::uint32_t slot_count, int owner_pid);

// The doorbell in a mapped segment, after checking magic, version and that its
// slot table fits the segment. Throws isolated::Error naming what is wrong.
DoorbellHeader* checked_doorbell(std::byte* memory, std::size_t segment_size);

// Another process's doorbell, mapped and checked.
struct MappedDoorbell {
  // Checks a mapped inbox segment (checked_doorbell); throws isolated::Error.
  static MappedDoorbell check(Segment segment);

  Segment segment;
  DoorbellHeader* header = nullptr;
  std::uint32_t slot_count = 0;  // as checked: the header's copy may change later
};

// Maps and checks the doorbell of the inbox `inbox_name`. Throws
// isolated::Error if it does not exist (its owner ended) or is not a doorbell
// of this layout.
MappedDoorbell open_doorbell(std::string_view inbox_name);

// How many slots from the start of the table may be in use: `slots_used`,
// which any producer can write, clamped to the checked `slot_count`.
inline std::uint32_t slots_in_use(const DoorbellHeader& header, std::uint32_t slot_count) noexcept {
  const std::uint32_t used = header.slots_used.load(std::memory_order_acquire);
  return used < slot_count ? used : slot_count;
}

inline LaneSlot* doorbell_slots(DoorbellHeader* header) noexcept {
  return reinterpret_cast<LaneSlot*>(reinterpret_cast<std::byte*>(header) + kDoorbellSlotsOffset);
}

// Producer side: wakes the consumer if it sleeps. Call after publishing.
// `light`: the consumer parks with membarrier and this process is registered
// (see above), so a compiler barrier stands for the fence.
void ring_doorbell(DoorbellHeader& header, bool light = false) noexcept;

// Producer side: registers the lane segment `lane_name` of process `pid` in a
// free slot and rings. `slot_count` is the count checked_doorbell saw (the
// header's copy could change under us). Returns the slot index, or nothing if
// every slot is taken.
std::optional<std::uint32_t> register_lane(DoorbellHeader& header, std::uint32_t slot_count,
                                           std::string_view lane_name, int pid) noexcept;

}  // namespace isolated::detail
