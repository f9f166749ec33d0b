// The consuming side of an isolate's inbox: it owns the doorbell segment,
// attaches the lanes producers register, and drains them (DESIGN §3).
//
// Thread-safety: drain, has_pending, tidy, release_lanes_of and wait: one
// thread at a time (the runtime serializes its drainers). park, wake_sleepers,
// interrupt and name: any thread of the owner, several at once.
#pragma once

#include "doorbell.hpp"
#include "frame.hpp"
#include "lane.hpp"
#include "common/src/os/asymmetric_fence.hpp"
#include "common/src/os/futex.hpp"
#include "common/src/shm/segment.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace isolated::detail {

// One frame taken from a lane, handed to the drain's sink. Out-of-line frames
// arrive already resolved: `kind` is the inner kind and `bytes` the mapped
// segment.
//
// `bytes` is valid only during the sink's call, unless `owner` is set (an
// out-of-line segment), in which case it is valid while `owner` lives. The
// sender may still write these bytes (they are in its lane or its segment):
// a sink that parses them must copy them first.
struct Delivery {
  FrameKind kind;  // message or control
  std::uint16_t flags;
  std::uint64_t port;
  int producer_pid;
  std::span<const std::byte> bytes;
  std::shared_ptr<const void> owner;
};

// Something a producer did wrong, and what the inbox did about it.
struct LaneFault {
  std::uint32_t slot;
  int producer_pid;  // as the producer declared it in its slot
  std::string reason;
  bool lane_closed;  // false when only one frame was dropped
};

class Inbox {
 public:
  struct Options {
    std::uint32_t slot_count = kDefaultSlotCount;
    // Shown by isolated-ps; cut to kMaxDebugNameBytes.
    std::string debug_name;
    int parent_pid = 0;  // 0 for a root isolate
    // The doorbell's name, chosen by the parent (make_segment_name); empty:
    // a fresh one.
    std::string name;
    // How long wait() spins before it sleeps on the futex: a wake-up costs far
    // more than a short spin (docs/BENCHMARKS.md). ISOLATED_SPIN_US overrides it.
    std::chrono::nanoseconds spin = default_spin();
    // Called (from the draining thread) for every lane fault. The default
    // prints one line to stderr.
    std::function<void(const LaneFault&)> on_lane_fault;
  };

  static std::chrono::nanoseconds default_spin();

  // Creates the doorbell segment and marks the inbox alive.
  explicit Inbox(Options options);
  Inbox() : Inbox(Options{}) {}
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;
  // Marks the inbox dead (so senders stop waiting), unlinks its name and the
  // names of lanes that were registered but never attached.
  ~Inbox();

  // The doorbell segment's name: the address senders use.
  const std::string& name() const noexcept { return segment_.name(); }

  // Hands the frames published so far to `sink`, at most `most` of them, lane
  // after lane (each drain starts at the lane after the one the last drain
  // started at, so a busy lane cannot starve the others), and returns how
  // many it handed over. Lanes that misbehave are closed and reported.
  // `sink` is any callable taking Delivery&&; nothing is allocated for it.
  template <class Sink>
  std::size_t drain(Sink&& sink, std::size_t most = SIZE_MAX);

  // True when a lane holds frames or a new lane was registered.
  bool has_pending() const noexcept;

  // Returns once has_pending() or after `timeout`: spins first, then sleeps on
  // the doorbell. Returns has_pending(). For a single consumer thread (the
  // runtime waits with park instead).
  bool wait(std::chrono::nanoseconds timeout);

  // Makes a wait() in progress, or the next one, return at once. Any thread.
  void interrupt() noexcept;

  // Sleeps on the doorbell until a producer rings, wake_sleepers() is called
  // or `timeout` passes, unless `ready()` holds once this thread counts as a
  // sleeper. `ready` is checked after the fence that pairs with the one in
  // ring_doorbell and wake_sleepers, so a frame published or a wake-up made
  // after it returned false is never missed. Any thread of the owner may park;
  // several may at once (producers then wake them all).
  template <class Ready>
  void park(std::chrono::nanoseconds timeout, Ready&& ready);

  // Wakes every thread parked now, if any. Call after changing what a parked
  // thread's `ready` looks at (with an ordering at least as strong as a
  // seq_cst read-modify-write of that state, which pairs with park's fence).
  void wake_sleepers() noexcept;

  // Frees the slots of lanes whose producers have ended, if the last look is
  // older than the release interval (250 ms). Cheap when it is not due.
  void tidy();

  void set_state(InboxState state) noexcept;

  // Frees the slots of the lanes of `producer_pid`, a process the caller knows
  // has ended, once their frames are drained (any left stay until they are).
  // Without it a slot waits for the periodic check (every 250 ms), and a burst
  // of short-lived workers, one lane each, can take every slot before that.
  void release_lanes_of(int producer_pid);

  DoorbellHeader& doorbell() const noexcept { return *header_; }
  std::size_t attached_lane_count() const noexcept { return lanes_.size(); }

 private:
  struct AttachedLane {
    std::uint32_t slot;
    Segment segment;
    LaneReader reader;
  };

  void attach_new_lanes();
  void attach(std::uint32_t slot_index);
  // Closes a lane whose producer wrote garbage, and reports it.
  void close_lane(AttachedLane& lane);
  // Consumes an out-of-line frame and maps the segment it names; nothing (the
  // fault reported) if the reference or the segment is bad.
  std::optional<Delivery> resolve_out_of_line(AttachedLane& lane, const LaneReader::Frame& frame);
  void release_finished_lanes();
  static void free_slot(LaneSlot& slot) noexcept;
  void report(const LaneFault& fault);
  LaneSlot& slot(std::uint32_t index) const noexcept { return slots_[index]; }

  Options options_;
  Segment segment_;
  DoorbellHeader* header_ = nullptr;
  LaneSlot* slots_ = nullptr;
  std::uint32_t slot_count_ = 0;  // our own copy: producers can write the header
  std::uint32_t seen_registrations_ = 0;
  std::vector<AttachedLane> lanes_;
  std::chrono::steady_clock::time_point next_release_check_{};
  std::size_t first_lane_ = 0;  // where the next drain starts
  bool parks_with_membarrier_ = false;  // as consumer_flags says; our own copy
  std::atomic<bool> interrupted_{false};
};

template <class Sink>
std::size_t Inbox::drain(Sink&& sink, std::size_t most) {
  attach_new_lanes();
  std::size_t delivered = 0;
  bool lost_a_lane = false;
  const std::size_t lane_count = lanes_.size();
  if (++first_lane_ >= lane_count) first_lane_ = 0;
  for (std::size_t visited = 0, at = first_lane_; visited < lane_count && delivered < most;
       ++visited, at = at + 1 < lane_count ? at + 1 : 0) {
    AttachedLane& lane = lanes_[at];
    if (lane.reader.closed()) continue;
    LaneReader::Frame frame{};
    while (delivered < most) {
      const auto next = lane.reader.next(frame);
      if (next == LaneReader::Next::empty) break;
      if (next == LaneReader::Next::corrupt) {
        close_lane(lane);
        lost_a_lane = true;
        break;
      }
      if (frame.kind != FrameKind::out_of_line) {
        // The sink reads the frame in the ring; only then is it consumed (also
        // when the sink throws, so a bad frame is not handed out again).
        struct Consume {
          LaneReader& reader;
          ~Consume() { reader.consume(); }
        } consume{lane.reader};
        sink(Delivery{frame.kind, frame.flags, frame.port, lane.reader.producer_pid(),
                      frame.payload, nullptr});
        ++delivered;
      } else if (auto resolved = resolve_out_of_line(lane, frame)) {
        sink(std::move(*resolved));
        ++delivered;
      }
    }
    lane.reader.wake_producer();
  }
  if (lost_a_lane) release_finished_lanes();
  return delivered;
}

template <class Ready>
void Inbox::park(std::chrono::nanoseconds timeout, Ready&& ready) {
  header_->sleeping_consumers.fetch_add(1, std::memory_order_seq_cst);
  const std::uint32_t bell = header_->bell.load(std::memory_order_acquire);
  // Pairs with the fence in ring_doorbell (a membarrier, when producers may
  // use a light one: doorbell.hpp) and in wake_sleepers.
  if (parks_with_membarrier_) {
    heavy_fence();
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  if (!ready()) futex_wait(header_->bell, bell, timeout);
  header_->sleeping_consumers.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace isolated::detail
