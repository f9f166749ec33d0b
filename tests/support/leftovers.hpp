// What a test run may not leave behind: child processes, and shared-memory
// segments in /dev/shm.
#pragma once

#include <string>
#include <vector>

namespace isolated::test {

// Pids of this process's children, zombies included (nothing is reaped).
// With PR_SET_CHILD_SUBREAPER set, orphaned grandchildren count too.
std::vector<int> live_children();

// Pids of the children of process `pid` (of all its threads). A test that
// SIGKILLs a process that spawned asks first: they are orphans then (its
// isolates, its zygote and spare), re-parented to the suite, which reaps them.
std::vector<int> children_of(int pid);

// Kills (SIGKILL) and reaps the given children of this process.
void kill_and_reap(const std::vector<int>& pids);

// /dev/shm/isolated.* segments whose session root process no longer exists.
std::vector<std::string> orphaned_segments();

}  // namespace isolated::test
