#include "pinning.hpp"

#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

namespace isolated::bench {

bool pin_to_cpu(int cpu) {
  // CPU_SET on a number outside the fixed-size set would write out of bounds.
  if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu), &set);
  // Fails with EINVAL, changing nothing, when no CPU of the set is usable.
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

int online_cpus() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : static_cast<int>(n);
}

ScopedPin::ScopedPin(int cpu) {
  if (sched_getaffinity(0, sizeof saved_, &saved_) != 0)
    throw std::system_error(errno, std::generic_category(), "sched_getaffinity");
  if (!pin_to_cpu(cpu))
    throw std::runtime_error("cannot pin the benchmark to CPU " + std::to_string(cpu) + " (" +
                             std::to_string(online_cpus()) + " online)");
}

ScopedPin::~ScopedPin() {
  // Best effort: the saved mask was valid a moment ago, and a destructor
  // cannot report a CPU going offline in between anyway.
  (void)sched_setaffinity(0, sizeof saved_, &saved_);
}

}  // namespace isolated::bench
