// Starting worker processes. The only door to Boost.Process, whose headers
// are heavy: only launcher.cpp includes them.
#pragma once

#include <string>
#include <vector>

namespace isolated::detail {

// What a child gets besides its arguments. Everything here is applied in the
// child between fork and exec with system calls only, so a zygote can apply
// it the same way (the descriptors travel to it with SCM_RIGHTS).
struct LaunchOptions {
  // The child's stdout and stderr (dup2'd onto 1 and 2); -1: this process's.
  int stdout_fd = -1;
  int stderr_fd = -1;
  // RLIMIT_CORE 0: a crash that a test expects writes no core file.
  bool no_core_dump = false;
  // The child leads a process group of its own (setpgid), so that whoever
  // waits for it can end everything it started with one kill(-pid).
  bool own_process_group = false;
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
