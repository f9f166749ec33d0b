// Frames: the unit a lane carries.
//
//   [u32 length][u16 kind][u16 flags][u64 port id][payload: length bytes][pad to 8]
//
// Every frame starts 8-byte aligned. A `wrap` frame needs only its first 8
// bytes (length, kind, flags), so it fits in any gap left at the end of a ring:
// it tells the consumer to continue at the ring's start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace isolated::detail {

enum class FrameKind : std::uint16_t {
  message = 1,      // a msgpack-encoded user message for a port
  control = 2,      // a control-plane command for the isolate runtime
  wrap = 3,         // skip to the ring's start
  out_of_line = 4,  // the payload is an OutOfLineRef naming a separate segment
};

struct FrameHeader {
  std::uint32_t length;  // payload bytes, not counting header or padding
  std::uint16_t kind;    // a FrameKind
  std::uint16_t flags;   // free for the layer above; the transport passes it through
  std::uint64_t port;    // the destination port id in the receiving inbox
};
static_assert(sizeof(FrameHeader) == 16);
static_assert(std::is_trivially_copyable_v<FrameHeader> && std::is_standard_layout_v<FrameHeader>);

inline constexpr std::size_t kFrameAlignment = 8;
inline constexpr std::size_t kWrapMarkerBytes = 8;

constexpr std::size_t align_frame(std::size_t n) noexcept {
  return (n + kFrameAlignment - 1) & ~(kFrameAlignment - 1);
}

constexpr std::size_t frame_bytes(std::size_t payload_length) noexcept {
  return sizeof(FrameHeader) + align_frame(payload_length);
}

// Payload of an out_of_line frame: the real frame's kind, its size, and the
// name of the segment (kind "oob") that holds its bytes. The receiver copies
// the bytes out (out_of_line.hpp) before it consumes the frame, and unlinks
// the name at once unless the sender recycles the segment (flags).
struct OutOfLineRef {
  std::uint64_t size;        // payload bytes in the segment
  std::uint16_t inner_kind;  // FrameKind::message or FrameKind::control
  std::uint16_t flags;       // kOutOfLineRecycled (out_of_line.hpp)
  std::uint32_t name_length;
  char name[64];  // not NUL-terminated; name_length bytes
};
static_assert(std::is_trivially_copyable_v<OutOfLineRef> && std::is_standard_layout_v<OutOfLineRef>);

}  // namespace isolated::detail
