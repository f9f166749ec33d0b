#include "asymmetric_fence.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace isolated::detail {
namespace {

// The pid that registered, so a forked child registers for itself; -1: the
// kernel refused (no membarrier, or a seccomp filter), and then never again.
std::atomic<int> registered_pid{0};

long membarrier(int command) noexcept { return ::syscall(SYS_membarrier, command, 0, 0); }

}  // namespace

bool process_registered() noexcept {
  const int pid = static_cast<int>(::getpid());
  const int seen = registered_pid.load(std::memory_order_acquire);
  if (seen == pid) return true;
  if (seen == -1) return false;
  const long supported = membarrier(MEMBARRIER_CMD_QUERY);
  const bool ok = supported > 0 && (supported & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0 &&
                  membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
  registered_pid.store(ok ? pid : -1, std::memory_order_release);
  return ok;
}

void heavy_fence() noexcept {
  if (process_registered() && membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0) return;
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace isolated::detail
