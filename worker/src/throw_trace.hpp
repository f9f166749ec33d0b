// The stack trace of the last exception thrown on this thread (see
// throw_trace.cpp).
#pragma once

#include <string>

namespace isolated::detail {

// From now on, every throw in this process records its stack trace.
void record_throw_traces();

// The trace of this thread's last throw, as text; "" if none was recorded.
std::string last_throw_trace();

// The calling thread's stack, as text, named the same way.
std::string stack_trace_here();

}  // namespace isolated::detail
