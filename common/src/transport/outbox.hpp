// The producing side: every frame this process sends to any inbox goes
// through its Outbox (DESIGN §3.2, §3.4).
//
// Each sending thread has a lane of its own to each inbox it sends to, made
// on its first send there (the doorbell's mapping is shared by the threads).
// So a send takes no lock: the thread writes its own ring and publishes its
// write index, and frames from one thread to one port keep their order.
//
// Order across the threads of this process is kept too, where one send
// happens before another (a thread sends a task, another later its cancel):
// the receiver must not see them the other way round, although they come
// through two lanes. So the inbox's lane in use is noted (`turn`); a thread
// whose lane is not the one in use first waits until the receiver has taken
// everything from the lane that was, then takes the turn. A thread that keeps
// sending pays one relaxed load for this; threads that alternate pay a wait.
//
// The one writer of a lane is its thread. The other party is disconnect
// (the receiver has ended: reclaim what the lane still holds), which must
// not walk the ring while its writer writes. A writer marks `writing`,
// issues a light fence and looks at `dropped`; disconnect sets `dropped`,
// issues a heavy fence (os/asymmetric_fence.hpp) and waits for `writing` to
// clear: one of the two sees the other, and the writer pays no real fence.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include "doorbell.hpp"
#include "frame.hpp"
#include "lane.hpp"
#include "out_of_line.hpp"
#include "common/src/shm/segment.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace isolated::detail {

enum class SendResult {
  sent,
  inbox_gone,   // the receiving isolate is dead, closing, or its inbox no longer exists
  lane_closed,  // the receiver closed this process's lane after a bad frame
};

class Outbox {
 public:
  struct Options {
    std::uint32_t lane_capacity = kDefaultLaneCapacity;
  };

  explicit Outbox(Options options);
  Outbox() : Outbox(Options{}) {}
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;
  // Tells every receiver that this process's lanes are finished, so they can
  // free the slots once drained.
  ~Outbox();

  // Sends one frame to `port` in the inbox named `inbox_name`, through the
  // calling thread's lane to it. A payload larger than a quarter of the lane
  // goes out of line. Blocks only while the lane is full and the receiver
  // lives. Throws isolated::Error if the name is not an inbox's or no lane
  // slot is free.
  SendResult send(std::string_view inbox_name, std::uint64_t port, FrameKind kind,
                  std::uint16_t flags, std::span<const std::byte> payload);

  // Forgets an inbox whose owner has ended: what the lanes of this process
  // still held for it is never going to be read, so the segments those frames
  // name (out-of-line payloads, transferables) are unlinked here.
  void abandon(std::string_view inbox_name);

  // Waits until the receiver has taken every frame the calling thread sent to
  // `inbox_name` out of its lane, or is gone. Returns false if it is gone.
  bool wait_drained(std::string_view inbox_name);

  // For a process about to _exit: waits until no thread is between creating a
  // lane's segment and registering its name with the receiver (the one moment
  // a name exists that nobody else could find and remove), and keeps every
  // other thread from starting one. Never undone.
  void freeze_for_exit() noexcept;

  // The largest payload that travels inside the lane.
  std::size_t max_inline_payload() const noexcept {
    return detail::max_inline_payload(options_.lane_capacity);
  }

 public:
  struct Lane;

 private:
  // The doorbell of an inbox this process sends to, mapped once for all its
  // threads' lanes.
  struct Receiver {
    MappedDoorbell doorbell;
    DoorbellHeader* header = nullptr;  // doorbell.header, used on every send
    int owner_pid = 0;
    // The receiver parks with membarrier and this process is registered: a
    // compiler barrier rings the doorbell (doorbell.hpp).
    bool light_ring = false;
    // The lane whose turn it is (see above): the atomic for the sender's
    // look, the owner (guarded by Outbox::mutex_) to keep it alive.
    std::atomic<const Lane*> turn{nullptr};
    std::shared_ptr<Lane> turn_owner;
  };

 public:
  // One sending thread's lane to one inbox (see above). Public for the
  // thread's table of its lanes (outbox.cpp); nothing else uses it.
  struct Lane : std::enable_shared_from_this<Lane> {
    std::shared_ptr<Receiver> receiver;
    Segment segment;
    LaneWriter writer;
    std::uint32_t slot = 0;
    std::atomic<bool> dropped{false};  // the receiver is gone (disconnect)
    std::atomic<bool> writing{false};  // the writer is writing a frame
    std::atomic<bool> retired{false};  // the writer's thread has ended

    // The writer's out-of-line segments (out_of_line.hpp), each free for a
    // new message once the lane's read index is past `until`.
    struct PooledSegment {
      OutOfLineSegment segment;
      std::uint64_t until = 0;
    };
    std::vector<PooledSegment> out_of_line;

    // Tells the receiver the lane is finished, so it frees the slot once
    // drained. Once.
    void retire() noexcept;
  };

 private:
  // Marks the lane's writer at work for its lifetime (see above).
  class Writing {
   public:
    Writing(Lane& lane, bool registered) noexcept;
    ~Writing();
    Writing(const Writing&) = delete;
    Writing& operator=(const Writing&) = delete;
    // The lane was dropped before the writer came: write nothing.
    bool dropped() const noexcept { return dropped_; }

   private:
    Lane& lane_;
    bool dropped_ = false;
  };

  // The calling thread's lane to `inbox_name`, made on first use; null if the
  // inbox is gone.
  Lane* lane_for(std::string_view inbox_name);
  std::shared_ptr<Lane> open_lane(std::string_view inbox_name);
  std::shared_ptr<Receiver> open_receiver(std::string_view inbox_name);
  // Drops every lane to an inbox that is gone, and their names.
  void disconnect(std::string_view inbox_name);
  // Makes `lane` the one in use for its receiver, after the receiver took
  // everything from the lane that was (see above).
  void take_turn(Lane& lane);
  SendResult write(Lane& lane, std::uint64_t port, FrameKind kind, std::uint16_t flags,
                   std::span<const std::byte> payload);
  SendResult write_out_of_line(Lane& lane, std::uint64_t port, FrameKind kind,
                               std::uint16_t flags, std::span<const std::byte> payload);
  // The inbox's state says it takes frames (no system call).
  static bool inbox_accepting(const Receiver& receiver) noexcept;
  // ... and its owner process exists.
  static bool receiver_alive(const Receiver& receiver) noexcept;

  // Lets the tables be searched by string_view: no string is built per send.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };

  Options options_;
  const std::uint64_t id_;  // tells this outbox from one that had its address before
  const bool registered_;   // this process is registered for membarrier
  std::mutex mutex_;        // guards the two tables, never held while sending
  std::unordered_map<std::string, std::shared_ptr<Receiver>, NameHash, std::equal_to<>> receivers_;
  // Every lane of every thread, by inbox: for abandon and the destructor.
  std::unordered_map<std::string, std::vector<std::shared_ptr<Lane>>, NameHash, std::equal_to<>>
      lanes_;
};

}  // namespace isolated::detail
