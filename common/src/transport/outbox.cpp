#include "outbox.hpp"

#include "common/src/os/syscall.hpp"

#include <isolated/detail/transfer_table.hpp>

#include <isolated/error.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace isolated::detail {

namespace {

std::atomic<std::uint64_t> next_outbox_id{1};

// The connection this thread used last, and to which inbox of which outbox.
struct CachedConnection {
  std::uint64_t outbox_id = 0;
  std::string inbox_name;
  std::shared_ptr<void> connection;  // an Outbox::Connection
};
thread_local CachedConnection last_connection;

}  // namespace

Outbox::Outbox(Options options) : options_(options), id_(next_outbox_id.fetch_add(1)) {
  options_.lane_capacity = normalize_lane_capacity(options_.lane_capacity);
}

Outbox::~Outbox() {
  for (auto& [name, connection] : connections_) {
    LaneSlot& slot = doorbell_slots(connection->header)[connection->slot];
    slot.producer_done.store(1, std::memory_order_release);
    ring_doorbell(*connection->header);
  }
}

bool Outbox::inbox_accepting(const Connection& connection) noexcept {
  const auto state = connection.header->state.load(std::memory_order_acquire);
  return state == static_cast<std::uint32_t>(InboxState::alive) ||
         state == static_cast<std::uint32_t>(InboxState::starting);
}

bool Outbox::receiver_alive(const Connection& connection) noexcept {
  return inbox_accepting(connection) && process_exists(connection.owner_pid);
}

std::shared_ptr<Outbox::Connection> Outbox::connect(std::string_view inbox_name) {
  {
    std::shared_lock lock(connections_mutex_);
    const auto found = connections_.find(inbox_name);
    if (found != connections_.end()) return found->second;
  }
  auto connection = open_connection(inbox_name);
  if (!connection) return nullptr;
  std::unique_lock lock(connections_mutex_);
  // Another thread may have connected meanwhile; its lane wins and ours is
  // dropped (its slot is marked done so the receiver frees it).
  auto [it, inserted] = connections_.try_emplace(std::string(inbox_name), std::move(connection));
  if (!inserted && connection) {
    doorbell_slots(connection->header)[connection->slot].producer_done.store(
        1, std::memory_order_release);
  }
  return it->second;
}

std::shared_ptr<Outbox::Connection> Outbox::open_connection(std::string_view inbox_name) {
  const auto parsed = parse_segment_name(inbox_name);
  if (!parsed || parsed->kind != SegmentKind::inbox) {
    throw UsageError("cannot send to '" + std::string(inbox_name) + "': not an inbox name");
  }
  auto connection = std::make_shared<Connection>();
  Segment segment;
  try {
    segment = Segment::open(inbox_name, SegmentKind::inbox, kDoorbellSlotsOffset);
  } catch (const Error&) {
    return nullptr;  // the inbox's owner has ended and unlinked it
  }
  connection->doorbell = MappedDoorbell::check(std::move(segment));
  connection->header = connection->doorbell.header;
  connection->owner_pid = connection->header->owner_pid;
  if (!receiver_alive(*connection)) return nullptr;

  const std::uint32_t capacity = options_.lane_capacity;
  connection->lane = Segment::create(SegmentKind::lane, lane_segment_bytes(capacity));
  LaneWriter::initialize(connection->lane.data(), capacity, static_cast<int>(::getpid()));
  connection->writer = LaneWriter(connection->lane.data());

  const auto slot = register_lane(*connection->header, connection->doorbell.slot_count,
                                  connection->lane.name(), static_cast<int>(::getpid()));
  if (slot) {
    // The receiver unlinks the name when it maps the lane (or, if it never
    // does, when its inbox ends).
    connection->lane.release_name();
    connection->slot = *slot;
    return connection;
  }
  throw ResourceExhausted("inbox " + std::string(inbox_name) + " has no free lane slot (all " +
              std::to_string(connection->doorbell.slot_count) +
              " are taken by other sending processes: an inbox hears from at most that many processes "
              "at once; a slot frees when its sender ends)");
}

Outbox::Connection* Outbox::connection_for(std::string_view inbox_name) {
  CachedConnection& cached = last_connection;
  if (cached.outbox_id == id_ && cached.inbox_name == inbox_name) {
    auto* connection = static_cast<Connection*>(cached.connection.get());
    if (!connection->dropped.load(std::memory_order_acquire)) return connection;
  }
  std::shared_ptr<Connection> connection = connect(inbox_name);
  if (connection == nullptr) return nullptr;
  cached.outbox_id = id_;
  cached.inbox_name.assign(inbox_name);
  cached.connection = std::move(connection);
  return static_cast<Connection*>(cached.connection.get());
}

SendResult Outbox::send(std::string_view inbox_name, std::uint64_t port, FrameKind kind,
                        std::uint16_t flags, std::span<const std::byte> payload) {
  // Kept alive by this thread's cache while we use it.
  Connection* connection = connection_for(inbox_name);
  if (connection == nullptr) return SendResult::inbox_gone;
  // One load of a line the receiver rarely writes: a receiver whose end was
  // seen (by itself or its parent) gets nothing more.
  if (!inbox_accepting(*connection)) {
    disconnect(inbox_name);
    return SendResult::inbox_gone;
  }
  const SendResult result = payload.size() > connection->writer.max_inline_payload()
                                ? write_out_of_line(*connection, port, kind, flags, payload)
                                : write(*connection, port, kind, flags, payload);
  if (result == SendResult::inbox_gone) disconnect(inbox_name);
  return result;
}

bool Outbox::wait_drained(std::string_view inbox_name) {
  std::shared_ptr<Connection> connection;
  {
    std::shared_lock lock(connections_mutex_);
    const auto found = connections_.find(inbox_name);
    if (found == connections_.end()) return true;  // nothing was sent there
    connection = found->second;
  }
  // The consumer wakes us once it has taken our frames (a fixed sleep here
  // used to add up to 0.2 ms to every exit, twice per compute). The lane's
  // mutex is held throughout, so no writer of ours waits on the lane's wake-up
  // word at the same time; the slice bounds how late we see a dead receiver.
  constexpr auto kSlice = std::chrono::milliseconds(10);
  std::lock_guard lock(connection->mutex);
  for (;;) {
    if (connection->writer.drained()) return true;
    if (!receiver_alive(*connection)) return false;
    connection->writer.wait_until_drained(kSlice);
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

void Outbox::disconnect(std::string_view inbox_name) {
  std::unique_lock lock(connections_mutex_);
  const auto found = connections_.find(inbox_name);
  if (found == connections_.end()) return;
  found->second->dropped.store(true, std::memory_order_release);
  {
    std::lock_guard lane_lock(found->second->mutex);
    found->second->writer.for_each_unconsumed(&reclaim);
  }
  // A receiver that died before it mapped our lane could not unlink its name.
  unlink_segment(found->second->lane.name());
  connections_.erase(found);
}

SendResult Outbox::write(Connection& connection, std::uint64_t port, FrameKind kind,
                         std::uint16_t flags, std::span<const std::byte> payload) {
  LaneSlot& slot = doorbell_slots(connection.header)[connection.slot];
  SendResult result = SendResult::sent;
  const auto keep_waiting = [&] {
    if (slot.state.load(std::memory_order_acquire) == static_cast<std::uint32_t>(SlotState::closed)) {
      result = SendResult::lane_closed;
      return false;
    }
    if (!receiver_alive(connection)) {
      result = SendResult::inbox_gone;
      return false;
    }
    return true;
  };
  {
    std::lock_guard lock(connection.mutex);
    if (!connection.writer.write(kind, flags, port, payload, keep_waiting)) return result;
  }
  ring_doorbell(*connection.header);
  return SendResult::sent;
}

SendResult Outbox::write_out_of_line(Connection& connection, std::uint64_t port, FrameKind kind,
                                     std::uint16_t flags, std::span<const std::byte> payload) {
  Segment segment = Segment::create(SegmentKind::out_of_line, std::max<std::size_t>(payload.size(), 1));
  std::memcpy(segment.data(), payload.data(), payload.size());
  OutOfLineRef ref{};
  ref.size = payload.size();
  ref.inner_kind = static_cast<std::uint16_t>(kind);
  ref.name_length = static_cast<std::uint32_t>(segment.name().size());
  std::memcpy(ref.name, segment.name().data(), segment.name().size());
  const SendResult result = write(connection, port, FrameKind::out_of_line, flags,
                                  std::as_bytes(std::span(&ref, 1)));
  // Once the frame is out, the receiver owns the name; if it never went out,
  // `segment` unlinks it here.
  if (result == SendResult::sent) segment.release_name();
  return result;
}

}  // namespace isolated::detail
