#include "garbage_collection.hpp"

#include "process_state.hpp"

#include <sys/mman.h>

#include <map>

namespace isolated::ps {

std::vector<std::string> remove_segments_of_ended_roots(const std::vector<SegmentEntry>& segments) {
  // Each root is looked at once, right before its segments would go. A root
  // cannot come back; a new process that got its pid makes us keep them. A
  // zombie root has ended too (its pid cannot be reused before it is reaped),
  // and right after a SIGKILL it often is one.
  std::map<int, bool> root_runs;
  std::vector<std::string> removed;
  for (const SegmentEntry& segment : segments) {
    const int root = segment.parsed.root_pid;
    auto known = root_runs.find(root);
    if (known == root_runs.end()) {
      known = root_runs.emplace(root, process_state(root) == ProcessState::running).first;
    }
    if (known->second) continue;
    // Unlinked already (by a dying worker's parent, or a second --gc) is fine.
    if (::shm_unlink(segment.name.c_str()) == 0) removed.push_back(segment.name);
  }
  return removed;
}

}  // namespace isolated::ps
