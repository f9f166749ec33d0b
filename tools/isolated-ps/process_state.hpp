// Whether a process still runs, seen through kill(pid, 0) and /proc.
#pragma once

namespace isolated::ps {

enum class ProcessState {
  running,  // exists and is not a zombie
  zombie,   // ended, not reaped yet: it runs no more code
  gone,     // no such process
};

ProcessState process_state(int pid);

}  // namespace isolated::ps
