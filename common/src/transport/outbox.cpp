#include "outbox.hpp"

#include "common/src/os/asymmetric_fence.hpp"
#include "common/src/os/syscall.hpp"

#include <isolated/detail/transfer_table.hpp>

#include <isolated/error.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <thread>

namespace isolated::detail {
namespace {

std::atomic<std::uint64_t> next_outbox_id{1};

// The lanes of the calling thread, by outbox and inbox, and the last one used
// (a thread that sends to one inbox again and again finds it without hashing).
// At the thread's end its lanes are retired, so receivers free their slots.
struct ThreadLanes {
  struct Key {
    std::uint64_t outbox_id;
    std::string inbox_name;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& key) const noexcept {
      return std::hash<std::string_view>{}(key.inbox_name) ^ key.outbox_id;
    }
  };
  std::unordered_map<Key, std::shared_ptr<Outbox::Lane>, KeyHash> lanes;
  Key last_key;
  Outbox::Lane* last = nullptr;

  ~ThreadLanes() {
    for (auto& [key, lane] : lanes) lane->retire();
  }
};
thread_local ThreadLanes thread_lanes;

}  // namespace

Outbox::Writing::Writing(Lane& lane, bool registered) noexcept : lane_(lane) {
  lane.writing.store(true, std::memory_order_relaxed);
  // Pairs with the heavy fence in disconnect (see outbox.hpp).
  if (registered) {
    light_fence();
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  dropped_ = lane.dropped.load(std::memory_order_relaxed);
}

Outbox::Writing::~Writing() { lane_.writing.store(false, std::memory_order_release); }

void Outbox::Lane::retire() noexcept {
  if (retired.exchange(true)) return;
  LaneSlot& s = doorbell_slots(receiver->header)[slot];
  s.producer_done.store(1, std::memory_order_release);
  ring_doorbell(*receiver->header);
}

Outbox::Outbox(Options options)
    : options_(options), id_(next_outbox_id.fetch_add(1)), registered_(process_registered()) {
  options_.lane_capacity = normalize_lane_capacity(options_.lane_capacity);
}

Outbox::~Outbox() {
  std::lock_guard lock(mutex_);
  for (auto& [name, lanes] : lanes_) {
    for (auto& lane : lanes) lane->retire();
  }
}

bool Outbox::inbox_accepting(const Receiver& receiver) noexcept {
  const auto state = receiver.header->state.load(std::memory_order_acquire);
  return state == static_cast<std::uint32_t>(InboxState::alive) ||
         state == static_cast<std::uint32_t>(InboxState::starting);
}

bool Outbox::receiver_alive(const Receiver& receiver) noexcept {
  return inbox_accepting(receiver) && process_exists(receiver.owner_pid);
}

std::shared_ptr<Outbox::Receiver> Outbox::open_receiver(std::string_view inbox_name) {
  // With mutex_ held.
  const auto found = receivers_.find(inbox_name);
  if (found != receivers_.end()) return found->second;
  const auto parsed = parse_segment_name(inbox_name);
  if (!parsed || parsed->kind != SegmentKind::inbox) {
    throw UsageError("cannot send to '" + std::string(inbox_name) + "': not an inbox name");
  }
  Segment segment;
  try {
    segment = Segment::open(inbox_name, SegmentKind::inbox, kDoorbellSlotsOffset);
  } catch (const Error&) {
    return nullptr;  // the inbox's owner has ended and unlinked it
  }
  auto receiver = std::make_shared<Receiver>();
  receiver->doorbell = MappedDoorbell::check(std::move(segment));
  receiver->header = receiver->doorbell.header;
  receiver->owner_pid = receiver->header->owner_pid;
  receiver->light_ring =
      (receiver->header->consumer_flags & kParksWithMembarrier) != 0 && registered_;
  if (!receiver_alive(*receiver)) return nullptr;
  receivers_.emplace(std::string(inbox_name), receiver);
  return receiver;
}

std::shared_ptr<Outbox::Lane> Outbox::open_lane(std::string_view inbox_name) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<Receiver> receiver = open_receiver(inbox_name);
  if (receiver == nullptr) return nullptr;
  auto lane = std::make_shared<Lane>();
  lane->receiver = receiver;
  const std::uint32_t capacity = options_.lane_capacity;
  lane->segment = Segment::create(SegmentKind::lane, lane_segment_bytes(capacity));
  LaneWriter::initialize(lane->segment.data(), capacity, static_cast<int>(::getpid()));
  lane->writer = LaneWriter(lane->segment.data());
  const auto slot = register_lane(*receiver->header, receiver->doorbell.slot_count,
                                  lane->segment.name(), static_cast<int>(::getpid()));
  if (!slot) {
    throw ResourceExhausted(
        "inbox " + std::string(inbox_name) + " has no free lane slot (all " +
        std::to_string(receiver->doorbell.slot_count) +
        " are taken by other sending threads: an inbox hears from at most that many at once; a "
        "slot frees when its sender ends)");
  }
  // The receiver unlinks the name when it maps the lane (or, if it never
  // does, disconnect or the end of its inbox does).
  lane->segment.release_name();
  lane->slot = *slot;
  auto& lanes = lanes_[std::string(inbox_name)];
  // Lanes of threads that ended are forgotten here, once drained.
  std::erase_if(lanes, [](const std::shared_ptr<Lane>& old) {
    return old->retired.load(std::memory_order_acquire) && old->writer.drained();
  });
  lanes.push_back(lane);
  return lane;
}

Outbox::Lane* Outbox::lane_for(std::string_view inbox_name) {
  ThreadLanes& mine = thread_lanes;
  if (mine.last != nullptr && mine.last_key.outbox_id == id_ && mine.last_key.inbox_name == inbox_name &&
      !mine.last->dropped.load(std::memory_order_relaxed)) {
    return mine.last;
  }
  ThreadLanes::Key key{id_, std::string(inbox_name)};
  auto found = mine.lanes.find(key);
  if (found != mine.lanes.end() && found->second->dropped.load(std::memory_order_acquire)) {
    mine.lanes.erase(found);  // its receiver ended
    found = mine.lanes.end();
  }
  if (found == mine.lanes.end()) {
    std::shared_ptr<Lane> lane = open_lane(inbox_name);
    if (lane == nullptr) return nullptr;
    found = mine.lanes.emplace(key, std::move(lane)).first;
  }
  mine.last_key = std::move(key);
  mine.last = found->second.get();
  return mine.last;
}

SendResult Outbox::send(std::string_view inbox_name, std::uint64_t port, FrameKind kind,
                        std::uint16_t flags, std::span<const std::byte> payload) {
  Lane* lane = lane_for(inbox_name);  // kept alive by this thread's table
  if (lane == nullptr) return SendResult::inbox_gone;
  // One load of a line the receiver rarely writes: a receiver whose end was
  // seen (by itself or its parent) gets nothing more.
  if (!inbox_accepting(*lane->receiver)) {
    disconnect(inbox_name);
    return SendResult::inbox_gone;
  }
  SendResult result = SendResult::inbox_gone;
  {
    // While this lasts, disconnect leaves the lane (and its out-of-line
    // segments) alone; see outbox.hpp.
    const Writing writing(*lane, registered_);
    if (!writing.dropped()) {
      if (lane->receiver->turn.load(std::memory_order_relaxed) != lane) take_turn(*lane);
      result = payload.size() > lane->writer.max_inline_payload()
                   ? write_out_of_line(*lane, port, kind, flags, payload)
                   : write(*lane, port, kind, flags, payload);
    }
  }
  if (result == SendResult::inbox_gone) disconnect(inbox_name);
  return result;
}

void Outbox::take_turn(Lane& lane) {
  Receiver& receiver = *lane.receiver;
  std::shared_ptr<Lane> previous;
  {
    std::lock_guard lock(mutex_);
    previous = std::exchange(receiver.turn_owner, lane.shared_from_this());
    receiver.turn.store(&lane, std::memory_order_release);
  }
  if (previous == nullptr || previous.get() == &lane) return;
  // What the other thread sent before us reaches the receiver first.
  SpinStep spin_step;
  while (!previous->writer.published_all_consumed()) {
    if (previous->dropped.load(std::memory_order_acquire) || !receiver_alive(receiver)) return;
    spin_step();
  }
}

bool Outbox::wait_drained(std::string_view inbox_name) {
  ThreadLanes& mine = thread_lanes;
  const auto found = mine.lanes.find(ThreadLanes::Key{id_, std::string(inbox_name)});
  if (found == mine.lanes.end()) return true;  // this thread sent nothing there
  Lane& lane = *found->second;
  // The consumer wakes us once it has taken our frames (a fixed sleep here
  // used to add up to 0.2 ms to every exit, twice per compute). Only this
  // thread writes or waits on its lane; the slice bounds how late we see a
  // dead receiver.
  constexpr auto kSlice = std::chrono::milliseconds(10);
  for (;;) {
    if (lane.writer.drained()) return true;
    if (lane.dropped.load(std::memory_order_acquire) || !receiver_alive(*lane.receiver)) return false;
    lane.writer.wait_until_drained(kSlice);
  }
}

void Outbox::abandon(std::string_view inbox_name) { disconnect(inbox_name); }

namespace {

// Unlinks what an unread frame names: an out-of-line payload's segment, and
// the transferables inside the message.
void reclaim(FrameKind kind, std::span<const std::byte> payload) {
  if (kind == FrameKind::message) {
    unlink_transfers_in(payload);
    return;
  }
  if (kind != FrameKind::out_of_line || payload.size() != sizeof(OutOfLineRef)) return;
  OutOfLineRef ref{};
  std::memcpy(&ref, payload.data(), sizeof ref);
  const std::string_view name(ref.name, std::min<std::size_t>(ref.name_length, sizeof ref.name));
  try {
    Segment segment = Segment::open(name, SegmentKind::out_of_line, static_cast<std::size_t>(ref.size));
    if (ref.inner_kind == static_cast<std::uint16_t>(FrameKind::message)) {
      unlink_transfers_in(std::span<const std::byte>(segment.data(), static_cast<std::size_t>(ref.size)));
    }
    segment.unlink();
  } catch (const Error&) {
    // Gone already.
  }
}

}  // namespace

void Outbox::freeze_for_exit() noexcept {
  // open_lane holds the mutex from Segment::create to register_lane. Taken
  // and kept: the process ends holding it.
  mutex_.lock();
}

void Outbox::disconnect(std::string_view inbox_name) {
  std::vector<std::shared_ptr<Lane>> lanes;
  {
    std::lock_guard lock(mutex_);
    if (const auto receiver = receivers_.find(inbox_name); receiver != receivers_.end()) {
      receiver->second->turn.store(nullptr, std::memory_order_relaxed);
      receiver->second->turn_owner.reset();
      receivers_.erase(receiver);
    }
    const auto found = lanes_.find(inbox_name);
    if (found == lanes_.end()) return;
    lanes = std::move(found->second);
    lanes_.erase(found);
  }
  for (auto& lane : lanes) lane->dropped.store(true, std::memory_order_relaxed);
  // Pairs with the writers' light fences (see outbox.hpp): a writer that did
  // not see `dropped` has `writing` set where we look.
  heavy_fence();
  for (auto& lane : lanes) {
    // A writer gives up soon: its receiver is dead.
    while (lane->writing.load(std::memory_order_acquire)) std::this_thread::yield();
    lane->writer.for_each_unconsumed(&reclaim);
    // A receiver that died before it mapped our lane could not unlink its name.
    unlink_segment(lane->segment.name());
    // Nor the out-of-line segments we kept for it (their owner thread sees
    // `dropped` before it touches them again).
    for (auto& pooled : lane->out_of_line) pooled.segment.unlink();
  }
}

SendResult Outbox::write(Lane& lane, std::uint64_t port, FrameKind kind, std::uint16_t flags,
                         std::span<const std::byte> payload) {
  const Receiver& receiver = *lane.receiver;
  LaneSlot& slot = doorbell_slots(receiver.header)[lane.slot];
  SendResult result = SendResult::sent;
  const auto keep_waiting = [&] {
    if (slot.state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(SlotState::closed)) {
      result = SendResult::lane_closed;
      return false;
    }
    if (!receiver_alive(receiver)) {
      result = SendResult::inbox_gone;
      return false;
    }
    return true;
  };
  if (!lane.writer.write(kind, flags, port, payload, keep_waiting)) return result;
  ring_doorbell(*receiver.header, receiver.light_ring);
  return SendResult::sent;
}

namespace {

// How many out-of-line segments one lane keeps for reuse, and the slack a new
// one gets (so a message a little larger than the last still fits).
constexpr std::size_t kPooledSegments = 2;
constexpr std::size_t kSmallestPooledSegment = 64 * 1024;

}  // namespace

SendResult Outbox::write_out_of_line(Lane& lane, std::uint64_t port, FrameKind kind,
                                     std::uint16_t flags, std::span<const std::byte> payload) {
  const std::size_t size = std::max<std::size_t>(payload.size(), 1);
  auto& pool = lane.out_of_line;
  // A free segment that holds it, the smallest such; else room for a new one
  // (in place of a free one too small); else, with every one still in
  // flight, a segment for this message alone.
  Lane::PooledSegment* chosen = nullptr;
  Lane::PooledSegment* free_but_small = nullptr;
  for (auto& pooled : pool) {
    if (!lane.writer.consumed_up_to(pooled.until)) continue;
    if (pooled.segment.capacity() >= size) {
      if (chosen == nullptr || pooled.segment.capacity() < chosen->segment.capacity()) chosen = &pooled;
    } else {
      free_but_small = &pooled;
    }
  }
  const std::size_t capacity = std::max(size + size / 8, kSmallestPooledSegment);
  if (chosen == nullptr && free_but_small != nullptr) {
    *free_but_small = Lane::PooledSegment{OutOfLineSegment(capacity), 0};
    chosen = free_but_small;
  } else if (chosen == nullptr && pool.size() < kPooledSegments) {
    pool.push_back(Lane::PooledSegment{OutOfLineSegment(capacity), 0});
    chosen = &pool.back();
  }
  std::optional<OutOfLineSegment> once;
  OutOfLineSegment& segment = chosen != nullptr ? chosen->segment : once.emplace(size);
  segment.write(payload);

  OutOfLineRef ref{};
  ref.size = payload.size();
  ref.inner_kind = static_cast<std::uint16_t>(kind);
  ref.flags = chosen != nullptr ? kOutOfLineRecycled : 0;
  ref.name_length = static_cast<std::uint32_t>(segment.name().size());
  std::memcpy(ref.name, segment.name().data(), segment.name().size());
  const SendResult result = write(lane, port, FrameKind::out_of_line, flags,
                                  std::as_bytes(std::span(&ref, 1)));
  if (result != SendResult::sent) return result;
  if (chosen != nullptr) {
    // Free again once the receiver has consumed this frame (it copies the
    // bytes out first).
    chosen->until = lane.writer.written();
  } else {
    // The receiver unlinks a segment used once.
    once->release_name();
  }
  return result;
}

}  // namespace isolated::detail
