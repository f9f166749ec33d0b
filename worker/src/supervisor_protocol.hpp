// What a worker tells its parent, on the parent's supervisor port. The
// parent's supervisor (isolated/src/supervisor.cpp) is the reader; the worker
// runtime the writer. Each report is a list whose first element is a Report.
#pragma once

namespace isolated::detail {

enum class Report : int {
  hello = 1,                  // [hello, spawn id, pid, control SendPort]: the entry may run
  add_exit_listener = 2,      // [.., pid, SendPort, response]: mirrored, so a crash fires it
  remove_exit_listener = 3,   // [.., pid, SendPort]
  add_error_listener = 4,     // [.., pid, SendPort]
  remove_error_listener = 5,  // [.., pid, SendPort]
  goodbye = 6,                // [goodbye, pid, errors already reported]: a clean exit follows
};

}  // namespace isolated::detail
