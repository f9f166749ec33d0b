// Pinning benchmark processes to CPUs. docs/BENCHMARKS.md: unpinned, a blocking
// round trip on the 2-vCPU guest jumps between ~2 µs (same CPU) and ~60 µs
// (cross-CPU wake-up) within one run, so every measurement pins both sides.
#pragma once

#include <sched.h>

namespace isolated::bench {

// Restricts the calling thread (the whole process, if single-threaded) to
// `cpu`. Returns false and leaves the affinity unchanged if that CPU does not
// exist or may not be used (offline, outside our cpuset, out of range).
bool pin_to_cpu(int cpu);

// CPUs currently online (sysconf(_SC_NPROCESSORS_ONLN)), at least 1. A CPU
// counted here can still be refused by pin_to_cpu if a cpuset excludes it.
int online_cpus();

// Pins the calling thread to `cpu` for its lifetime and then restores the
// affinity the thread had before. Throws std::runtime_error if the CPU cannot
// be used, so a figure is never reported for a pinning that did not happen.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu);
  ~ScopedPin();
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;

 private:
  cpu_set_t saved_;
};

}  // namespace isolated::bench
