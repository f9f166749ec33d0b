// isolated-ps --gc: removing the segments of sessions whose root has ended
// (DESIGN §11). A root that ends normally, or by SIGINT/SIGTERM/SIGHUP/
// SIGQUIT, removes its session's segments itself; a root killed by SIGKILL
// (or one that crashed) cannot, and its workers die with it, so whatever the
// session had in /dev/shm stays until this runs.
#pragma once

#include "segment_scan.hpp"

#include <string>
#include <vector>

namespace isolated::ps {

// Unlinks each of `segments` whose root process has ended (it is gone, or a
// zombie), of any kind, and returns the names it removed. A segment whose
// root still runs (or an unrelated process that got its pid) is left alone.
std::vector<std::string> remove_segments_of_ended_roots(const std::vector<SegmentEntry>& segments);

}  // namespace isolated::ps
