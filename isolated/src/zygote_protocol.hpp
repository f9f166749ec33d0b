// What the spawner, its zygote and the zygote's spares say to each other
// (DESIGN §2, "The zygote"). Two kinds of socket, both SOCK_SEQPACKET socketpairs, so
// that nobody else can connect to either:
//
//   spawner <-> zygote: the spawner asks for a spare (SpareRequest); the zygote
//     forks one and answers SpareReply, with the spawner's end of the spare's
//     own socket attached. The zygote greets its spawner first (ZygoteHello).
//   spawner <-> spare: the spawner sends one BootRequest (and the boot
//     record after it, if it fits), with the spare's working directory and
//     any stdin/stdout/stderr attached, and closes its end; the spare becomes
//     the worker. A spare whose socket closes before a BootRequest came (its
//     spawner is stopping) ends.
//
// All are fixed-size structs of one build of one program: both sides are the
// same binary, so no versioning.
#pragma once

#include "common/src/shm/names.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace isolated::detail {

// argv[1] of the zygote, /proc/self/exe run again; argv[2] is its spawner's
// pid. Its end of the socket to its spawner is its fd 3.
inline constexpr std::string_view kZygoteFlag = "--isolated-zygote";
inline constexpr int kZygoteSocketFd = 3;

struct ZygoteHello {
  // 0: it forks spares; otherwise it cannot (why says why) and the spawner
  // execs its workers instead.
  std::int32_t unusable = 0;
  char why[200] = {};
};

struct SpareRequest {
  std::uint32_t count = 1;  // always one, for now
};

struct SpareReply {
  std::int32_t pid = 0;    // the spare, a child of the spawner; 0 if error is set
  std::int32_t error = 0;  // errno of the failed fork
};

// Which descriptors a BootRequest carries after the working directory, in
// this order.
enum BootRequestFlags : std::uint32_t {
  kBootWorkingDirectory = 1,  // the spawner's, as an O_PATH descriptor
  kBootStdin = 2,
  kBootStdout = 4,
  kBootStderr = 8,
  kBootNoCoreDump = 16,  // RLIMIT_CORE 0
  kBootRecordInline = 32,  // the record follows the request
  kBootOwnProcessGroup = 64,  // setpgid(0, 0)
};

// The largest boot record sent inline (the message's argument is in it); a
// larger one goes in a segment of its own, as for an exec'd worker.
inline constexpr std::size_t kMaxInlineBootRecord = 64 * 1024;

struct BootRequest {
  std::uint32_t flags = 0;
  std::uint32_t record_bytes = 0;  // inline: the length of the record after this
  // Otherwise: the NUL-terminated name of the segment that holds it.
  char boot_record[kMaxSegmentNameBytes] = {};
};

}  // namespace isolated::detail
