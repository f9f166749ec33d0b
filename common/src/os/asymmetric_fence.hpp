// Asymmetric fences (Linux membarrier). In a handshake where one side acts on
// every message (a producer that publishes a frame, then looks whether the
// consumer sleeps) and the other rarely (a consumer about to sleep), the
// frequent side can do with a compiler barrier if the rare side makes every
// running thread of every registered process execute a full memory barrier:
// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED). The frequent side's fence was
// what made a stream pay a cache-line round trip per frame.
//
// Both sides must agree: the frequent side may use light_fence() only when
// its own process is registered (process_registered()) and the rare side
// said, in shared memory, that it uses heavy_fence() with membarrier.
#pragma once

namespace isolated::detail {

// Registers this process for expedited global membarrier (once per process,
// again after a fork) and says whether heavy_fence() can use it. Cheap after
// the first call.
bool process_registered() noexcept;

// The frequent side: a compiler barrier only. Call only as explained above.
inline void light_fence() noexcept { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

// The rare side: membarrier if this process could register, else a full
// fence (and then the frequent side must use full fences too).
void heavy_fence() noexcept;

}  // namespace isolated::detail
