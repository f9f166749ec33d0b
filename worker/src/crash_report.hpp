// The crash report (DESIGN §3.1, §6) as text: how a parent turns what a dead
// worker's fatal-signal handler (crash_handler.hpp) wrote into its doorbell's
// CrashReportArea into a readable report.
//
// The child and the parent are different processes (re-executed, with their
// own address-space layout), so the child's raw addresses mean nothing in the
// parent. The child therefore records, with each return address, the module
// it lies in (load bias, range, file path); the parent turns every address
// into (module, offset) and looks the offset up in the module file's ELF
// symbol table. No external program, no debug-info library: a name is found
// for any function of an unstripped binary, exported or not; for a stripped
// one the report degrades to module+offset (feed that to
// `addr2line -f -C -e <module> <offset>` for file and line).
//
// Wire format inside CrashReportArea::text: crash_packet.hpp. The parent
// validates every field of it.
#pragma once

#include "common/src/transport/doorbell.hpp"

#include <cstdint>
#include <span>
#include <string>

namespace isolated::detail {

// Parent side: the area written by a now-dead child as readable text:
//   SIGSEGV (Segmentation fault: address not mapped) at address 0x0
//     #0 crash_here()+0x4 in /path/binary+0x1234
//     #1 ...
// The area comes from an untrusted process: every length, count, offset and
// path is checked, nothing is read out of bounds, module files are opened
// only if they are absolute paths of regular files. Returns "" if the area
// is not complete. Reads files and allocates: never call it on a hot path.
std::string render_crash_report(const CrashReportArea& area);

// Return addresses of this process, named the same way, one "  #i ..." line
// each (for the stack trace of a thrown exception). Reads files: not for a
// hot path.
std::string describe_own_frames(std::span<const std::uintptr_t> return_addresses);

}  // namespace isolated::detail
