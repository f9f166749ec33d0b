// The readable name of a C++ symbol or type ("std::vector<int>") from its
// mangled one. The one wrapper of abi::__cxa_demangle: type names in
// MessageTypeError and RemoteError, function names in crash reports.
#pragma once

#include <string>
#include <string_view>

namespace isolated::detail {

// `mangled` demangled, or `mangled` itself when it is not a mangled name.
// Allocates; not async-signal-safe.
std::string demangle(const char* mangled);
std::string demangle(std::string_view mangled);

}  // namespace isolated::detail
