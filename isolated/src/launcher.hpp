// Starting worker processes. The only door to Boost.Process, whose headers
// are heavy: only launcher.cpp includes them.
#pragma once

#include <string>
#include <vector>

namespace isolated::detail {

// What a child gets besides its arguments: the one place for per-child
// settings. Everything here is applied in the child with system calls only,
// between vfork and exec, or by a spare of the zygote before it becomes the
// worker (the descriptors travel to it with SCM_RIGHTS, zygote_protocol.hpp).
struct LaunchOptions {
  // The child's stdin, stdout and stderr (dup2'd onto 0, 1 and 2); -1: this
  // process's.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // RLIMIT_CORE 0: a crash that a test expects writes no core file.
  bool no_core_dump = false;
  // The child leads a process group of its own (setpgid), so that whoever
  // waits for it can end everything it started with one kill(-pid).
  bool own_process_group = false;
  // A descriptor the child keeps open as its fd 3 (the zygote's end of its
  // socket); -1: none. Exec only.
  int kept_as_fd3 = -1;
};

// Starts `executable` with `arguments` (argv[1] on) from the runtime's
// launcher thread, a thread that lives as long as the process: the child gets
// PR_SET_PDEATHSIG(SIGKILL), which fires when the thread that forked it ends,
// so a child dies with its parent, whatever killed the parent. The child
// inherits stdin, stdout and stderr (or gets the ones `options` names) and
// no other descriptor. Returns the pid; throws IsolateSpawnError with the
// reason (exec failure included).
int launch_process(const std::string& executable, const std::vector<std::string>& arguments,
                   const LaunchOptions& options = {});

}  // namespace isolated::detail
