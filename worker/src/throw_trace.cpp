// Where an exception was thrown, for RemoteError::stack_trace(). By the time
// a worker catches an exception its stack has unwound, so the trace is taken
// at the throw: this file interposes __cxa_throw (every C++ throw goes through
// it), records the return addresses when recording is on, and hands over to
// the real __cxa_throw. Recording is on only in worker processes (a throw in
// the host pays nothing but a flag test), and resolving addresses to names
// happens only when a trace is asked for.
#include "throw_trace.hpp"

#include "crash_report.hpp"

#include <boost/stacktrace.hpp>

#include <cxxabi.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <vector>
#include <typeinfo>

namespace isolated::detail {
namespace {

std::atomic<bool> recording{false};
thread_local boost::stacktrace::stacktrace last_throw;
thread_local bool inside = false;  // a throw while recording a throw

}  // namespace

void record_throw_traces() { recording.store(true, std::memory_order_relaxed); }

// Frames named the way crash reports name them.
static std::string describe(const boost::stacktrace::stacktrace& trace) {
  std::vector<std::uintptr_t> addresses;
  for (const auto& frame : trace) {
    addresses.push_back(reinterpret_cast<std::uintptr_t>(frame.address()));
  }
  return describe_own_frames(addresses);
}

std::string last_throw_trace() { return last_throw.empty() ? "" : describe(last_throw); }

std::string stack_trace_here() { return describe(boost::stacktrace::stacktrace(1, 64)); }

}  // namespace isolated::detail

// The signature is the one <cxxabi.h> declares, in its namespace.
namespace __cxxabiv1 {
extern "C" void __cxa_throw(void* exception, std::type_info* type, void (*destructor)(void*)) {
  using Throw = void (*)(void*, std::type_info*, void (*)(void*));
  static const Throw real = reinterpret_cast<Throw>(::dlsym(RTLD_NEXT, "__cxa_throw"));
  using namespace isolated::detail;
  if (recording.load(std::memory_order_relaxed) && !inside) {
    inside = true;
    last_throw = boost::stacktrace::stacktrace(1, 64);  // skip this frame
    inside = false;
  }
  real(exception, type, destructor);
  __builtin_unreachable();
}
}  // namespace __cxxabiv1
