// A process named so that a reused pid does not pass for it: its pid and its
// start time (clock ticks since boot, field 22 of /proc/<pid>/stat).
#pragma once

#include <cstdint>
#include <optional>

namespace isolated::detail {

struct ProcessIdentity {
  int pid = 0;
  std::uint64_t start_time = 0;
};

// The identity of process `pid`; nothing if it does not exist.
std::optional<ProcessIdentity> identify_process(int pid);

// Whether the process `identity` names still runs (a zombie does not).
bool process_alive(const ProcessIdentity& identity);

}  // namespace isolated::detail
