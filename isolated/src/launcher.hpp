// Starting worker processes. The only door to Boost.Process, whose headers
// are heavy: only launcher.cpp includes them.
#pragma once

#include <string>
#include <vector>

namespace isolated::detail {

// What a child gets besides its program and arguments: the one place for
// per-child settings. Both ways a worker starts honour it: exec here, and a
// fork from the zygote (zygote_client.hpp), which passes the descriptors on.
struct LaunchOptions {
  // Descriptors of this process that become the child's stdin, stdout and
  // stderr (to capture a test trial's output, say); -1: it shares this
  // process's own. Must not be 0, 1 or 2 themselves.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // RLIMIT_CORE 0 in the child: one that crashes on purpose dumps no core.
  bool no_core_dump = false;
  // A descriptor the child keeps open as its fd 3 (the zygote's end of its
  // socket, zygote_protocol.hpp); -1: none. Exec only.
  int kept_as_fd3 = -1;
};

// Starts `executable` with `arguments` (argv[1] on) from the runtime's
// launcher thread, a thread that lives as long as the process: the child gets
// PR_SET_PDEATHSIG(SIGKILL), which fires when the thread that forked it ends,
// so a child dies with its parent, whatever killed the parent. The child
// inherits stdin, stdout and stderr (or what `options` gives instead) and no
// other descriptor. Returns the pid; throws IsolateSpawnError with the reason
// (exec failure included).
int launch_process(const std::string& executable, const std::vector<std::string>& arguments,
                   const LaunchOptions& options = {});

}  // namespace isolated::detail
