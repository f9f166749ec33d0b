#include "inbox.hpp"

#include "common/src/os/environment.hpp"
#include "common/src/os/futex.hpp"
#include "common/src/os/syscall.hpp"

#include <isolated/error.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace isolated::detail {
namespace {

// How often drained lanes are checked for producers that are gone.
constexpr auto kReleaseCheckInterval = std::chrono::milliseconds(250);

void print_fault(const std::string& inbox, const LaneFault& fault) {
  std::fprintf(stderr, "isolated: inbox %s %s the lane of process %d (slot %u): %s\n",
               inbox.c_str(), fault.lane_closed ? "closed" : "dropped a frame from",
               fault.producer_pid, fault.slot, fault.reason.c_str());
}

std::string_view slot_lane_name(const LaneSlot& slot) {
  const std::uint32_t length = slot.name_length;
  if (length == 0 || length > sizeof slot.lane_name) return {};
  return std::string_view(slot.lane_name, length);
}

}  // namespace

std::chrono::nanoseconds Inbox::default_spin() {
  // Longer than a cross-CPU wake-up (~30 µs here), so a reply that is
  // already on its way is caught spinning.
  static const std::chrono::nanoseconds spin =
      std::chrono::microseconds(environment_number("ISOLATED_SPIN_US").value_or(50));
  return spin;
}

Inbox::Inbox(Options options) : options_(std::move(options)) {
  if (options_.slot_count == 0 || options_.slot_count > kMaxSlotCount) {
    throw UsageError("an inbox needs between 1 and " + std::to_string(kMaxSlotCount) +
                " lane slots, not " + std::to_string(options_.slot_count));
  }
  slot_count_ = options_.slot_count;
  segment_ = options_.name.empty()
                 ? Segment::create(SegmentKind::inbox, doorbell_bytes(slot_count_))
                 : Segment::create_named(options_.name, SegmentKind::inbox,
                                         doorbell_bytes(slot_count_));
  header_ = initialize_doorbell(segment_.data(), slot_count_, static_cast<int>(::getpid()));
  header_->parent_pid = options_.parent_pid;
  const std::size_t name_length = std::min(options_.debug_name.size(), kMaxDebugNameBytes);
  std::memcpy(header_->debug_name, options_.debug_name.data(), name_length);
  header_->debug_name_length = static_cast<std::uint32_t>(name_length);
  parks_with_membarrier_ = process_registered();
  if (parks_with_membarrier_) header_->consumer_flags = kParksWithMembarrier;
  slots_ = doorbell_slots(header_);
  set_state(InboxState::alive);
}

Inbox::~Inbox() {
  if (header_ == nullptr) return;
  set_state(InboxState::dead);
  // Lanes registered but never attached would otherwise keep their names.
  for (std::uint32_t i = 0, used = slots_in_use(*header_, slot_count_); i < used; ++i) {
    if (slot(i).state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(SlotState::ready)) {
      const auto name = slot_lane_name(slot(i));
      const auto parsed = parse_segment_name(name);
      if (parsed && parsed->kind == SegmentKind::lane) unlink_segment(name);
    }
  }
  // Wake senders that wait for space in a lane: they see the inbox dead.
  header_->bell.fetch_add(1, std::memory_order_release);
  futex_wake(header_->bell, INT32_MAX);
}

void Inbox::interrupt() noexcept {
  interrupted_.store(true, std::memory_order_release);
  header_->bell.fetch_add(1, std::memory_order_release);
  futex_wake(header_->bell, INT32_MAX);
}

void Inbox::set_state(InboxState state) noexcept {
  header_->state.store(static_cast<std::uint32_t>(state), std::memory_order_release);
}

void Inbox::report(const LaneFault& fault) {
  if (options_.on_lane_fault) {
    options_.on_lane_fault(fault);
  } else {
    print_fault(name(), fault);
  }
}

bool Inbox::has_pending() const noexcept {
  if (header_->registrations.load(std::memory_order_acquire) != seen_registrations_) return true;
  for (const auto& lane : lanes_) {
    if (lane.reader.has_frames()) return true;
  }
  return false;
}

void Inbox::attach_new_lanes() {
  const std::uint32_t registrations = header_->registrations.load(std::memory_order_acquire);
  if (registrations == seen_registrations_) return;
  seen_registrations_ = registrations;
  for (std::uint32_t i = 0, used = slots_in_use(*header_, slot_count_); i < used; ++i) {
    if (slot(i).state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(SlotState::ready)) {
      attach(i);
    }
  }
}

void Inbox::attach(std::uint32_t slot_index) {
  LaneSlot& s = slot(slot_index);
  const int pid = s.producer_pid;
  const std::string lane_name(slot_lane_name(s));
  try {
    Segment segment = Segment::open(lane_name, SegmentKind::lane, lane_segment_bytes(kMinLaneCapacity));
    // The peer has it mapped now: its name has done its job (DESIGN §11).
    segment.unlink();
    LaneReader reader(segment.data(), segment.size());
    s.state.store(static_cast<std::uint32_t>(SlotState::attached), std::memory_order_release);
    lanes_.push_back(AttachedLane{slot_index, std::move(segment), std::move(reader)});
  } catch (const Error& e) {
    s.state.store(static_cast<std::uint32_t>(SlotState::closed), std::memory_order_release);
    report(LaneFault{slot_index, pid, std::string("cannot attach its lane: ") + e.what(), true});
  }
}

void Inbox::close_lane(AttachedLane& lane) {
  slot(lane.slot).state.store(static_cast<std::uint32_t>(SlotState::closed),
                              std::memory_order_release);
  report(LaneFault{lane.slot, lane.reader.producer_pid(), lane.reader.fault(), true});
}

std::optional<Delivery> Inbox::resolve_out_of_line(AttachedLane& lane,
                                                   const LaneReader::Frame& frame) {
  const int pid = lane.reader.producer_pid();
  OutOfLineRef ref{};
  const bool well_formed = frame.payload.size() == sizeof ref;
  if (well_formed) std::memcpy(&ref, frame.payload.data(), sizeof ref);
  lane.reader.consume();
  const auto inner = static_cast<FrameKind>(ref.inner_kind);
  if (!well_formed || ref.name_length > sizeof ref.name ||
      (inner != FrameKind::message && inner != FrameKind::control)) {
    report(LaneFault{lane.slot, pid, "malformed out-of-line reference", false});
    return std::nullopt;
  }
  const std::string_view segment_name(ref.name, ref.name_length);
  try {
    auto segment = std::make_shared<Segment>(
        Segment::open(segment_name, SegmentKind::out_of_line, static_cast<std::size_t>(ref.size)));
    segment->unlink();
    std::span<const std::byte> bytes(segment->data(), static_cast<std::size_t>(ref.size));
    return Delivery{inner, frame.flags, frame.port, pid, bytes, std::move(segment)};
  } catch (const Error& e) {
    report(LaneFault{lane.slot, pid, std::string("out-of-line message lost: ") + e.what(), false});
    return std::nullopt;
  }
}

void Inbox::tidy() {
  if (std::chrono::steady_clock::now() >= next_release_check_) release_finished_lanes();
}

void Inbox::wake_sleepers() noexcept {
  // Pairs with the fence in park (see doorbell.hpp): the caller's change is
  // ordered before this load.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (header_->sleeping_consumers.load(std::memory_order_relaxed) != 0) {
    header_->bell.fetch_add(1, std::memory_order_release);
    futex_wake(header_->bell, INT32_MAX);
  }
}

void Inbox::release_finished_lanes() {
  next_release_check_ = std::chrono::steady_clock::now() + kReleaseCheckInterval;
  std::erase_if(lanes_, [&](AttachedLane& lane) {
    LaneSlot& s = slot(lane.slot);
    const bool done = lane.reader.closed() ||
                      (!lane.reader.has_frames() &&
                       (s.producer_done.load(std::memory_order_acquire) != 0 ||
                        !process_exists(lane.reader.producer_pid())));
    if (!done) return false;
    // A closed lane keeps its slot `closed` while its producer lives, so the
    // producer learns that its frames are no longer read.
    if (lane.reader.closed() && process_exists(lane.reader.producer_pid())) return false;
    free_slot(s);
    return true;
  });
}

void Inbox::release_lanes_of(int producer_pid) {
  std::erase_if(lanes_, [&](AttachedLane& lane) {
    if (lane.reader.producer_pid() != producer_pid) return false;
    if (!lane.reader.closed() && lane.reader.has_frames()) return false;
    free_slot(slot(lane.slot));
    return true;
  });
}

void Inbox::free_slot(LaneSlot& slot) noexcept {
  slot.producer_done.store(0, std::memory_order_relaxed);
  slot.state.store(static_cast<std::uint32_t>(SlotState::free), std::memory_order_release);
}

bool Inbox::wait(std::chrono::nanoseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  const auto spin_until = start + std::min(timeout, options_.spin);
  SpinStep spin_step;
  for (;;) {
    // Spin on the lanes, looking at the clock only every 16 rounds.
    for (int round = 0; round < 16; ++round) {
      if (has_pending()) return true;
      if (interrupted_.exchange(false, std::memory_order_acq_rel)) return false;
      spin_step();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return has_pending();
    if (now < spin_until) continue;
    // Wake up now and then to release lanes of producers that died.
    const auto slice = std::min<std::chrono::nanoseconds>(deadline - now, kReleaseCheckInterval);
    park(slice, [&] { return has_pending() || interrupted_.load(std::memory_order_acquire); });
    tidy();
  }
}

}  // namespace isolated::detail
