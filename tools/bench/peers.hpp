// What the operating system's own channels cost between two processes on this
// machine, measured the same way as the isolated side so the table can print
// ratios from one run (docs/BENCHMARKS.md).
//
// Every function forks one child pinned to `child_cpu`, pins the calling
// thread to `parent_cpu` for the duration (restoring its affinity after),
// runs `warmup` uncounted iterations, and cleans up (fds closed, child
// reaped) on every path, exceptions included. The caller must be
// single-threaded (see child.hpp). Errors, including a pinning that is not
// possible (a single CPU), throw std::runtime_error; a bad config throws
// std::invalid_argument.
#pragma once

#include <cstddef>

#include "stats.hpp"

namespace isolated::bench {

struct PeerConfig {
  std::size_t message_bytes = 64;
  std::size_t round_trips = 20000;
  std::size_t warmup = 1000;
  std::size_t stream_messages = 1000000;
  int parent_cpu = 0;
  int child_cpu = 1;
};

// Round trip: the parent writes one message, the child reads all of it and
// writes it back, the parent reads all of it. One sample (steady_clock, µs)
// per round trip, from before the write to after the read. Blocking
// read/write on two pipes.
Summary pipe_round_trip(const PeerConfig&);
// The same protocol over one AF_UNIX SOCK_STREAM socketpair.
Summary socketpair_round_trip(const PeerConfig&);

// One-way stream, in messages per second: the parent writes stream_messages
// messages, one write() each; the child reads in 64 KiB chunks (the best a
// buffered byte-stream receiver can do) and finally reports the byte count
// and a byte sum back. Timed from the first write to the arrival of that
// report; throws std::runtime_error if the child did not get every byte.
double pipe_stream(const PeerConfig&);
double socketpair_stream(const PeerConfig&);

// The floor: an anonymous MAP_SHARED mapping made before fork; each side
// publishes a sequence number in a std::atomic<uint64_t> on its own cache
// line and copies the message through the mapping; nothing blocks. The
// waiting side spins with a pause instruction and calls sched_yield every
// 64 spins, which costs nothing across CPUs but keeps the same-CPU variant
// from waiting for preemption on every hand-off (see spin_until_changed).
Summary raw_spin_round_trip(const PeerConfig&);

// Moving a block of `bytes` to another process through a Unix socketpair:
// the parent writes it, the child reads all of it into a buffer of its own
// (allocated once) and acknowledges with one byte. One sample per block.
Summary socketpair_block_transfer(std::size_t bytes, std::size_t repetitions, int parent_cpu,
                                  int child_cpu);

// The floor for any design that copies: memcpy of `bytes` into a buffer
// that was written before (no fresh pages). One sample per copy.
Summary memcpy_block(std::size_t bytes, std::size_t repetitions);

}  // namespace isolated::bench
