// What a worker says about an exception it could not handle: its type's name
// and where it was thrown, for RemoteError.
#include <isolated/detail/exceptions.hpp>

#include "throw_trace.hpp"
#include "common/src/os/demangle.hpp"

#include <cxxabi.h>

#include <typeinfo>

namespace isolated::detail {

std::string current_exception_type_name() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) return "unknown";
  return demangle(type->name());
}

std::string current_stack_trace() {
  // Where it was thrown, if the throw was recorded; else where it is handled.
  std::string trace = last_throw_trace();
  return trace.empty() ? stack_trace_here() : trace;
}

}  // namespace isolated::detail
