// The crash report's packet: what a worker's fatal-signal handler
// (crash_handler.cpp) writes into CrashReportArea::text, and its parent's
// renderer (crash_report.cpp) reads back, trusting none of it.
#pragma once

#include "common/src/transport/doorbell.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace isolated::detail::crash_packet {

// ---------------------------------------------------------------------------
// Wire format of CrashReportArea::text (both sides are built from this header).
//
//   PacketHeader                    at 0
//   u64 frames[frame_count]         at frames_offset: return addresses, each
//                                   already moved into its call instruction
//   ModuleEntry[module_count]       at modules_offset: only the modules that
//                                   hold a frame
//   path bytes                      where each ModuleEntry says
//
// The handler publishes every count after the items it counts, so a packet
// cut short by a fault inside the handler is still consistent. The parent
// trusts none of it: all offsets and counts are checked against text_length.
// ---------------------------------------------------------------------------

inline constexpr std::uint32_t kPacketMagic = 0x31524349;  // "ICR1"
inline constexpr std::uint16_t kPacketVersion = 1;
inline constexpr std::uint16_t kFlagTruncated = 1;     // the handler faulted while writing
inline constexpr std::uint16_t kFlagPathsDropped = 2;  // no room for some module path
inline constexpr std::uint32_t kStateWriting = 1;
inline constexpr std::uint32_t kStateComplete = 2;
inline constexpr std::size_t kMaxFrames = 64;
inline constexpr int kMaxUnwindSteps = 256;  // a corrupted stack can make the unwinder cycle

struct PacketHeader {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t flags;
  std::int32_t code;        // si_code: > 0 when the kernel raised it for a fault
  std::int32_t pid;         // the crashing process
  std::int32_t sender_pid;  // si_pid, when a process sent the signal (code <= 0)
  std::uint16_t frame_count;
  std::uint16_t module_count;
  std::uint32_t frames_offset;
  std::uint32_t modules_offset;
};

struct ModuleEntry {
  std::uint64_t bias;   // dlpi_addr: address - bias is the address the ELF file uses
  std::uint64_t start;  // [start, end): the module's loaded segments
  std::uint64_t end;
  std::uint32_t path_offset;  // into text
  std::uint32_t path_length;
};

static_assert(std::is_trivially_copyable_v<PacketHeader> &&
              std::is_trivially_copyable_v<ModuleEntry>);
inline constexpr std::size_t kFramesOffset = (sizeof(PacketHeader) + 7) / 8 * 8;
static_assert(kFramesOffset + kMaxFrames * 8 + kMaxFrames * sizeof(ModuleEntry) < kCrashTextBytes);

}  // namespace isolated::detail::crash_packet
