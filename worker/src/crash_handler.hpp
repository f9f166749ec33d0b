// The fatal-signal handler of an isolate process (child side of the crash
// report, DESIGN §6). Everything here that runs inside the handler is
// async-signal-safe; the renderer the parent runs is in crash_report.hpp.
#pragma once

#include "common/src/transport/doorbell.hpp"

namespace isolated::detail {

// Installs handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP and
// SIGSYS, and an alternate signal stack for the calling thread (so a stack
// overflow is reported too), unless prepare_crash_handler did so already (in
// the zygote, whose children inherit all that). Snapshots the loaded modules
// then (dlopen'd later: call prepare_crash_handler again). The handler,
// async-signal-safe, fills `area` (the packet of
// crash_packet.hpp) and then ends the process by the same signal, so the
// parent's waitpid sees WIFSIGNALED with it. A fault inside the handler
// publishes what was written and ends the process by the first signal; it
// never loops.
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

}  // namespace isolated::detail
