// How a worker describes an exception it could not handle, for RemoteError.
#pragma once

#include <string>

namespace isolated::detail {

// The type name of the exception being handled, demangled.
std::string current_exception_type_name();
// A stack trace of the calling thread, as text.
std::string current_stack_trace();

}  // namespace isolated::detail
