// The order of a process tree, as `ps f` prints it: every isolate right
// after its parent, children by pid, each with its depth.
#pragma once

#include <cstddef>
#include <vector>

namespace isolated::ps {

struct TreePosition {
  std::size_t index;  // into the input
  std::size_t depth;  // 0 for a root (or an isolate whose parent is not listed)
};

struct PidAndParent {
  int pid;
  int parent_pid;
};

// Every input exactly once. Pids come from shared memory that a worker may
// have written, so a cycle of parents cannot loop: an isolate that no root
// leads to is placed at depth 0 after the others.
std::vector<TreePosition> tree_order(const std::vector<PidAndParent>& processes);

}  // namespace isolated::ps
