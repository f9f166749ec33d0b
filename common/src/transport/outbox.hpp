// The producing side: every frame this process sends to any inbox goes
// through its Outbox (DESIGN §3.2, §3.4).
//
// The first send to an inbox maps its doorbell, creates this process's lane
// for it and registers the lane in a free slot; later sends reuse that lane.
// Threads of one process share a lane under a per-lane mutex, so frames from
// one thread to one port keep their order.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include "doorbell.hpp"
#include "frame.hpp"
#include "lane.hpp"
#include "common/src/shm/segment.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

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

  // Sends one frame to `port` in the inbox named `inbox_name`. A payload
  // larger than a quarter of the lane goes out of line. Blocks only while the
  // lane is full and the receiver lives. Throws isolated::Error if the name is
  // not an inbox's or no lane slot is free.
  SendResult send(std::string_view inbox_name, std::uint64_t port, FrameKind kind,
                  std::uint16_t flags, std::span<const std::byte> payload);

  // Forgets an inbox whose owner has ended: what our lane still held for it is
  // never going to be read, so the segments those frames name (out-of-line
  // payloads, transferables) are unlinked here.
  void abandon(std::string_view inbox_name);

  // Waits until the receiver has taken every frame this process sent to
  // `inbox_name` out of the lane, or is gone. Returns false if it is gone.
  bool wait_drained(std::string_view inbox_name);

  // The largest payload that travels inside the lane.
  std::size_t max_inline_payload() const noexcept {
    return detail::max_inline_payload(options_.lane_capacity);
  }

 private:
  struct Connection {
    // Set once the connection is dropped (disconnect): a thread that cached
    // it connects anew.
    std::atomic<bool> dropped{false};
    MappedDoorbell doorbell;
    DoorbellHeader* header = nullptr;  // doorbell.header, used on every send
    int owner_pid = 0;
    Segment lane;
    LaneWriter writer;
    std::uint32_t slot = 0;
    std::mutex mutex;  // serializes this process's writers of the lane
  };

  // The connection to `inbox_name`, made on first use; null if the inbox is
  // gone. Shared, so a thread still sending keeps it while another drops it.
  std::shared_ptr<Connection> connect(std::string_view inbox_name);
  // connect, through a one-entry cache per thread: a thread that sends to
  // one inbox again and again takes no lock and hashes no name.
  Connection* connection_for(std::string_view inbox_name);
  std::shared_ptr<Connection> open_connection(std::string_view inbox_name);
  // Drops the connection to an inbox that is gone, and our lane's name with it.
  void disconnect(std::string_view inbox_name);
  SendResult write(Connection& connection, std::uint64_t port, FrameKind kind, std::uint16_t flags,
                   std::span<const std::byte> payload);
  SendResult write_out_of_line(Connection& connection, std::uint64_t port, FrameKind kind,
                               std::uint16_t flags, std::span<const std::byte> payload);
  // The inbox's state says it takes frames (no system call).
  static bool inbox_accepting(const Connection& connection) noexcept;
  // ... and its owner process exists.
  static bool receiver_alive(const Connection& connection) noexcept;

  // Lets connections_ be searched by string_view: no string is built per send.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept {
      return std::hash<std::string_view>{}(name);
    }
  };

  Options options_;
  const std::uint64_t id_;  // tells this outbox from one that had its address before
  std::shared_mutex connections_mutex_;
  std::unordered_map<std::string, std::shared_ptr<Connection>, NameHash, std::equal_to<>>
      connections_;
};

}  // namespace isolated::detail
