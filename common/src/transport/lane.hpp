// A lane: a single-producer single-consumer ring of frames in its own
// shared-memory segment (DESIGN §3.2).
//
// Who owns what
// -------------
// The producing process creates the segment, lays it out (LaneWriter::initialize)
// and is the only writer of `write_index` and of the ring bytes. The consuming
// process (the inbox owner) is the only writer of `read_index`. Both indices
// count bytes since the lane was made and never wrap; a position in the ring is
// `index % capacity`. They sit on separate cache lines so that the two sides
// do not invalidate each other's line on every frame.
//
// Orderings
// ---------
// - The producer writes a frame's bytes, then stores `write_index` with release.
//   The consumer loads it with acquire, so every byte before that index is
//   visible: a frame is published whole or not at all, and a producer that dies
//   mid-write leaves nothing the consumer can see.
// - The consumer copies a frame out, then stores `read_index` with release. The
//   producer loads it with acquire before it overwrites those bytes.
// - A producer that finds the lane full, or waits for it to be drained, sleeps
//   on `space_event` (a futex word).
//   It sets `producer_waiting`, loads `space_event`, issues a seq_cst fence and
//   looks at `read_index` again; the consumer, after a batch of frames, issues
//   a seq_cst fence and reads `producer_waiting` (wake_producer). The fences
//   guarantee that at least one side sees the other, so no wake-up is lost.
// - Each side reads the other's index only when its cached copy says the ring
//   is full (producer) or empty (consumer), so in a stream the indices' cache
//   lines move between CPUs once per batch, not once per frame.
//
// Trust
// -----
// The consumer trusts nothing in the segment: it keeps its own copies of the
// capacity and of its read index, copies each header before checking it, and
// checks every length, kind and bound (LaneReader::next). On the first bad
// frame the lane is closed for good and the reason is kept.
#pragma once

#include "frame.hpp"
#include "common/src/os/futex.hpp"
#include "common/src/shm/shared_atomic.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace isolated::detail {

struct LaneHeader {
  std::uint64_t magic;
  std::uint32_t layout_version;
  std::uint32_t capacity;  // ring bytes, a multiple of kFrameAlignment
  std::int32_t producer_pid;
  std::uint32_t reserved;

  alignas(kCacheLine) SharedAtomic<std::uint64_t> write_index;  // producer-owned

  alignas(kCacheLine) SharedAtomic<std::uint64_t> read_index;  // consumer-owned
  SharedAtomic<std::uint32_t> space_event;       // futex word, bumped by the consumer
  SharedAtomic<std::uint32_t> producer_waiting;  // set by a producer about to sleep
};
static_assert(std::is_standard_layout_v<LaneHeader>);

inline constexpr std::uint64_t kLaneMagic = 0x656e614c2e736c69;  // "ils.Lane"
inline constexpr std::uint32_t kLaneLayoutVersion = 1;
inline constexpr std::size_t kLaneRingOffset = 3 * kCacheLine;
static_assert(sizeof(LaneHeader) <= kLaneRingOffset);

inline constexpr std::uint32_t kMinLaneCapacity = 4096;
inline constexpr std::uint32_t kMaxLaneCapacity = 1u << 30;
inline constexpr std::uint32_t kDefaultLaneCapacity = 256 * 1024;

// Bytes a lane segment needs for a ring of `capacity` bytes.
constexpr std::size_t lane_segment_bytes(std::uint32_t capacity) noexcept {
  return kLaneRingOffset + capacity;
}

// The capacity actually used for a requested size: rounded to the frame
// alignment and clamped to [kMinLaneCapacity, kMaxLaneCapacity].
std::uint32_t normalize_lane_capacity(std::size_t requested) noexcept;

// Payloads larger than this go out of line: a quarter of the ring, so that a
// lane always has room for several frames and no single message can wedge it.
constexpr std::size_t max_inline_payload(std::uint32_t capacity) noexcept {
  return (capacity / 4 - sizeof(FrameHeader)) & ~(kFrameAlignment - 1);
}

// The frame at `read_index` of a ring whose producer published up to
// `write_index`, with every bound checked: both indices, the wrap marker, the
// header, the kind, the length against the lane's limit, and the frame's end
// against the published data and the ring's end. The one check of frames,
// for the consumer (LaneReader::next) and for the producer's reclaim walk.
struct FrameAt {
  FrameHeader header;    // a copy; of a wrap frame only the first 8 bytes
  std::size_t position;  // ring offset of the frame
  std::size_t bytes;     // how far past it the next frame starts
};
enum class FrameAtResult { frame, wrap, empty, corrupt };
// On `corrupt`, `fault` says why (the only allocation).
FrameAtResult read_frame_at(const std::byte* ring, std::uint32_t capacity, std::uint64_t read_index,
                            std::uint64_t write_index, FrameAt& at, std::string& fault);

// The producer side. Not thread-safe: one thread at a time (the outbox holds a
// mutex per lane). Never allocates.
class LaneWriter {
 public:
  // Lays out a lane in zero-filled memory of lane_segment_bytes(capacity) bytes.
  static void initialize(std::byte* memory, std::uint32_t capacity, int producer_pid) noexcept;

  LaneWriter() = default;
  // `memory` is a lane this process initialized, so it is trusted.
  explicit LaneWriter(std::byte* memory) noexcept;

  std::size_t max_inline_payload() const noexcept { return detail::max_inline_payload(capacity_); }

  // Appends one frame if the ring has room now; never blocks. The payload must
  // be at most max_inline_payload() bytes.
  bool try_write(FrameKind kind, std::uint16_t flags, std::uint64_t port,
                 std::span<const std::byte> payload) noexcept;

  // Appends one frame, waiting while the ring is full: it spins `spin` first,
  // then sleeps in slices of `slice`, and before each slice asks
  // `keep_waiting()`. Returns false (nothing written) once that says no.
  template <class KeepWaiting>
  bool write(FrameKind kind, std::uint16_t flags, std::uint64_t port,
             std::span<const std::byte> payload, KeepWaiting&& keep_waiting,
             std::chrono::nanoseconds spin = std::chrono::microseconds(20),
             std::chrono::nanoseconds slice = std::chrono::milliseconds(10));

  // Everything written so far has been consumed.
  bool drained() const noexcept;

  // Bytes written since the lane was made (the write index).
  std::uint64_t written() const noexcept { return write_index_; }
  // Everything published has been consumed; unlike drained(), from any
  // thread (it reads only the shared indices).
  bool published_all_consumed() const noexcept {
    return header_->read_index.load(std::memory_order_acquire) >=
           header_->write_index.load(std::memory_order_acquire);
  }
  // Whether the consumer says it has consumed at least `index` bytes. Only a
  // hint: the consumer writes the read index, so it can lie, which hurts only
  // itself.
  bool consumed_up_to(std::uint64_t index) const noexcept {
    return header_->read_index.load(std::memory_order_acquire) >= index;
  }

  // Sleeps until everything written has been consumed or `slice` passes. The
  // consumer's wake_producer wakes it, as it wakes a writer that waits for
  // space; call it from the thread that writes (one waiter per lane).
  void wait_until_drained(std::chrono::nanoseconds slice) noexcept;

  // Calls visit(kind, payload) for every frame written but not consumed, in
  // order (to reclaim what they name when the consumer is gone). The ring is
  // ours, but the consumer maps it writable and owns the read index: a
  // hostile one can point the index anywhere and rewrite the frames before
  // it goes. So the walk starts only from a read index that is aligned and
  // within a capacity behind our write index, checks every frame as
  // LaneReader does (read_frame_at), stops at the first bad one, and hands
  // visit a private copy of each payload (the ring may still change). It
  // reads at most one capacity of bytes. Allocates, unlike the write path.
  template <class Visit>
  void for_each_unconsumed(Visit&& visit) const;

 private:
  bool has_room(std::size_t bytes) noexcept;
  // Sleeps until the consumer frees space or `slice` passes.
  void wait_for_space(std::size_t bytes, std::chrono::nanoseconds slice) noexcept;
  std::size_t bytes_needed(std::size_t payload_length) const noexcept;

  LaneHeader* header_ = nullptr;
  std::byte* ring_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint64_t write_index_ = 0;
  std::uint64_t cached_read_index_ = 0;  // refreshed only when the ring looks full
};

// The consumer side. Not thread-safe: one thread at a time (the inbox drains
// under a mutex). Never allocates except for a fault description.
class LaneReader {
 public:
  struct Frame {
    FrameKind kind;
    std::uint16_t flags;
    std::uint64_t port;
    std::span<const std::byte> payload;  // in the ring: valid until consume()
  };
  enum class Next { frame, empty, corrupt };

  LaneReader() = default;
  // Checks the header an untrusted producer wrote. Throws isolated::Error with
  // the reason if it is not a lane this build can read.
  LaneReader(std::byte* memory, std::size_t segment_size);

  // Looks at the next frame without consuming it. On `corrupt` the lane is
  // closed for good and fault() says why.
  Next next(Frame& frame);

  // Releases the frame returned by the last next(). Call wake_producer()
  // after a batch of these.
  void consume() noexcept;

  // Wakes the producer if it sleeps, waiting for the space consume() freed.
  void wake_producer() noexcept;

  // Cheap: whether the producer has published anything not yet consumed.
  bool has_frames() const noexcept;

  bool closed() const noexcept { return !fault_.empty(); }
  const std::string& fault() const noexcept { return fault_; }
  int producer_pid() const noexcept { return producer_pid_; }

 private:
  Next fail(std::string reason);

  LaneHeader* header_ = nullptr;
  const std::byte* ring_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint64_t read_index_ = 0;
  std::uint64_t cached_write_index_ = 0;  // refreshed only when the ring looks empty
  std::size_t pending_bytes_ = 0;         // size of the frame next() returned
  int producer_pid_ = 0;
  std::string fault_;
};

template <class Visit>
void LaneWriter::for_each_unconsumed(Visit&& visit) const {
  std::uint64_t index = header_->read_index.load(std::memory_order_acquire);
  if (index > write_index_ || write_index_ - index > capacity_ || index % kFrameAlignment != 0) {
    return;  // not an index the consumer could have reached: nothing to trust
  }
  std::vector<std::byte> payload;
  std::string fault;
  for (;;) {
    FrameAt at{};
    switch (read_frame_at(ring_, capacity_, index, write_index_, at, fault)) {
      case FrameAtResult::empty:
      case FrameAtResult::corrupt: return;
      case FrameAtResult::wrap: index += at.bytes; continue;
      case FrameAtResult::frame: break;
    }
    const std::byte* bytes = ring_ + at.position + sizeof(FrameHeader);
    payload.assign(bytes, bytes + at.header.length);
    visit(static_cast<FrameKind>(at.header.kind), std::span<const std::byte>(payload));
    index += at.bytes;
  }
}

template <class KeepWaiting>
bool LaneWriter::write(FrameKind kind, std::uint16_t flags, std::uint64_t port,
                       std::span<const std::byte> payload, KeepWaiting&& keep_waiting,
                       std::chrono::nanoseconds spin, std::chrono::nanoseconds slice) {
  if (try_write(kind, flags, port, payload)) return true;
  const auto spin_until = std::chrono::steady_clock::now() + spin;
  SpinStep spin_step;
  while (std::chrono::steady_clock::now() < spin_until) {
    spin_step();
    if (try_write(kind, flags, port, payload)) return true;
  }
  const std::size_t needed = bytes_needed(payload.size());
  for (;;) {
    if (!keep_waiting()) return false;
    wait_for_space(needed, slice);
    if (try_write(kind, flags, port, payload)) return true;
  }
}

}  // namespace isolated::detail
