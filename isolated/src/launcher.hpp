// Starting worker processes. The only door to Boost.Process, whose headers
// are heavy: only launcher.cpp includes them.
#pragma once

#include <string>
#include <vector>

namespace isolated::detail {

// Starts `executable` with `arguments` (argv[1] on) from the runtime's
// launcher thread, a thread that lives as long as the process: the child gets
// PR_SET_PDEATHSIG(SIGKILL), which fires when the thread that forked it ends,
// so a child dies with its parent, whatever killed the parent. The child
// inherits stdin, stdout and stderr and no other descriptor. Returns the pid;
// throws IsolateSpawnError with the reason (exec failure included).
int launch_process(const std::string& executable, const std::vector<std::string>& arguments);

}  // namespace isolated::detail
