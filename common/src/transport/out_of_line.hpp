// Out-of-line messages: a payload too large for a lane travels in a segment
// of its own, which the frame names (frame.hpp, OutOfLineRef).
//
// Both sides move the bytes with pwrite and pread, never through a mapping.
// A segment is a file that either side can shrink (ftruncate) at any time;
// a shrunk mapping would fault (SIGBUS) in whoever touches it next, while
// pread just returns fewer bytes and pwrite extends the file again. And the
// receiver's pread is its private copy: it parses nothing in memory the
// sender can still write.
//
// Recycling. Fresh shared-memory pages cost about 1.7 µs each to touch here
// (a 256 MiB segment: ~110 ms), written ones nothing. So a sender keeps its
// out-of-line segments (a few per lane) and writes the next large message
// into one whose last message has been read: the receiver reads it before it
// consumes the frame, so a frame consumed (the lane's read index past it)
// means the segment is free again. Such a segment keeps its name while the
// sender keeps it (the receiver must open it by name each time; the frame
// says so, kOutOfLineRecycled), and the sender unlinks it when it lets it go.
#pragma once

#include "frame.hpp"
#include "common/src/os/unique_fd.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace isolated::detail {

// OutOfLineRef::flags: the segment is the sender's to reuse; do not unlink it.
inline constexpr std::uint16_t kOutOfLineRecycled = 1;

// A sender's out-of-line segment: a shared-memory file it writes with pwrite.
class OutOfLineSegment {
 public:
  // A new segment of this session with room for `capacity` bytes. Throws
  // isolated::Error (ResourceExhausted when /dev/shm is full).
  explicit OutOfLineSegment(std::size_t capacity);
  OutOfLineSegment(OutOfLineSegment&&) noexcept = default;
  OutOfLineSegment& operator=(OutOfLineSegment&&) noexcept = default;
  // Unlinks the name unless it was handed over (release_name).
  ~OutOfLineSegment();

  const std::string& name() const noexcept { return name_; }
  std::size_t capacity() const noexcept { return capacity_; }

  // Writes `bytes` at the start. Throws isolated::Error.
  void write(std::span<const std::byte> bytes);

  // The receiver will unlink the name (a segment used once).
  void release_name() noexcept { owns_name_ = false; }
  // Unlinks the name now (its receiver is gone); idempotent.
  void unlink() noexcept;

 private:
  std::string name_;
  UniqueFd fd_;
  std::size_t capacity_ = 0;
  bool owns_name_ = true;
};

// The receiving side: copies `size` bytes of the segment `name` into `out`
// with pread, so nothing in it is read twice or through a mapping. Throws
// isolated::TransportError if the name is not an out-of-line segment of ours,
// if it does not exist, or if it holds fewer bytes than `size`.
void read_out_of_line(std::string_view name, std::span<std::byte> out);

// Memory a received out-of-line message is copied into, reused when the
// message (and every copy of it) is gone, so a stream of large messages does
// not touch fresh pages for each one. One per draining inbox; not
// thread-safe.
class OutOfLineBuffers {
 public:
  // A buffer of at least `size` bytes; the shared owner keeps it alive (and
  // out of reuse) as long as any message refers to it.
  std::shared_ptr<std::byte[]> get(std::size_t size);

 private:
  // The last buffer handed out, kept for reuse once nobody holds it. A buffer
  // much larger than needed is not reused for a small message.
  std::shared_ptr<std::byte[]> kept_;
  std::size_t kept_size_ = 0;
};

}  // namespace isolated::detail
