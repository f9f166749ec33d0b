// What a worker says about an exception it could not handle: its type's name
// and where it was thrown, for RemoteError.
#include <isolated/detail/exceptions.hpp>

#include "throw_trace.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace isolated::detail {

std::string current_exception_type_name() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) return "unknown";
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), &std::free);
  return status == 0 && demangled ? demangled.get() : type->name();
}

std::string current_stack_trace() {
  // Where it was thrown, if the throw was recorded; else where it is handled.
  std::string trace = last_throw_trace();
  return trace.empty() ? stack_trace_here() : trace;
}

}  // namespace isolated::detail
