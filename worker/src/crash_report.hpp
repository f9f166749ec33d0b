// The crash report (DESIGN §3.1, §6): what a worker writes into its doorbell's
// CrashReportArea when it dies of a fatal signal, and how its parent turns
// that into text.
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
// Wire format inside CrashReportArea::text: see the comment above
// PacketHeader in crash_report.cpp. The parent validates every field of it.
#pragma once

#include "common/src/transport/doorbell.hpp"

#include <cstdint>
#include <span>
#include <string>

namespace isolated::detail {

// Installs handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP and
// SIGSYS, and an alternate signal stack for the calling thread (so a stack
// overflow is reported too), unless prepare_crash_handler did so already
// (in the zygote, whose children inherit all that). Snapshots the loaded
// modules then (dlopen'd later: call prepare_crash_handler again). The
// handler, async-signal-safe, fills `area` and then ends the
// process by the same signal, so the parent's waitpid sees WIFSIGNALED with
// it. A fault inside the handler publishes what was written and ends the
// process by the first signal; it never loops.
//
// `area` must stay mapped for the life of the process; it is only written by
// the handler, never here. Replaces any handler installed before for these
// signals (under ASan: ASan's own SEGV/BUS/FPE report; see the test file).
// Throws isolated::Error if a handler or the signal stack cannot be set up.
void install_crash_handler(CrashReportArea& area);

// All of install_crash_handler but the area: until one is given, a fatal
// signal ends the process by the same signal with no report. The zygote
// calls it once, for every worker it forks. Throws as install_crash_handler.
void prepare_crash_handler();

// Gives the calling thread an alternate signal stack, so that a stack
// overflow on this thread is reported instead of killing the process
// silently. install_crash_handler does this for the thread that calls it;
// call this at the start of every other thread that runs isolate code.
// The stack is never freed (a thread's exit may still fault). Throws
// isolated::Error if it cannot be mapped.
void install_crash_signal_stack();

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
