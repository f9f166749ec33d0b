// Peers that block instead of spinning, beside the ones in peers.hpp: a raw
// futex ping-pong (the floor for any hand-off that sleeps) and Boost.Interprocess's
// message_queue (a shared-memory queue under a process-shared mutex and
// condition variables). Same rules as peers.hpp: the child is forked and
// pinned, the caller's thread is pinned for the duration, and everything is
// cleaned up on every path.
#pragma once

#include "peers.hpp"
#include "stats.hpp"

#include <chrono>

namespace isolated::bench {

// Round trip through two futex words in a shared mapping: the parent bumps
// `ping` and wakes, the child (asleep in futex_wait) copies the message
// through the mapping, bumps `pong` and wakes; the parent waits on `pong`.
// Neither side spins, so every hand-off is a wake-up. With `idle` > 0 the
// parent sleeps that long before each round trip (not timed).
Summary futex_round_trip(const PeerConfig&, std::chrono::microseconds idle = {});

// Round trip through two Boost.Interprocess message_queues (send, then a
// blocking receive on the other queue).
Summary message_queue_round_trip(const PeerConfig&);

// One-way stream through one message_queue of 256 entries; the child
// receives every message, then reports the count and byte sum back. Messages
// per second from the first send to the report.
double message_queue_stream(const PeerConfig&);

}  // namespace isolated::bench
