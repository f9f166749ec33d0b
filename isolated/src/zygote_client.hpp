// The spawning side of the zygote (DESIGN §2, "The zygote"; zygote.hpp): each process
// that spawns workers of its own program starts its own zygote at its first
// such spawn, from the launcher thread, and keeps one spare forked from it.
// A spawn hands the spare its boot record; the spare is a child of this
// process, watched by its supervisor like an exec'd worker. A zygote that has
// died is started again at the next spawn; the spare outlives it.
#pragma once

#include "launcher.hpp"
#include "spare_handoff.hpp"
#include "supervisor.hpp"
#include "zygote_protocol.hpp"

#include <chrono>
#include <optional>
#include <vector>

namespace isolated::detail {

// Starts a worker of this program from a spare of the zygote: the
// supervisor watches it for `watch`, then it gets its boot record and the
// descriptors `options` names. Returns its pid, or nothing if no zygote can
// serve this process (disabled, ThreadSanitizer, a zygote that is not single-
// threaded, or one that fails to start): then the caller execs the worker.
// `timeout` bounds each wait for the zygote.
std::optional<int> start_from_zygote(const BootRecordHandoff& boot_record,
                                     const LaunchOptions& options, const ChildWatch& watch,
                                     std::chrono::milliseconds timeout);

// Asks this process's zygote, if it has one, for the next spare if none is
// ready or asked for, and returns at once. A spawn calls it once its worker has said hello: the
// zygote's fork then no longer competes with that worker's start. The spare
// is watched from the next call here on; until then, one that is killed
// stays a zombie.
void replenish_zygote_spare(std::chrono::milliseconds timeout);

// Ends this process's zygote and its spare and waits (up to `timeout`) until
// both are reaped; the next spawn starts another. True if they are gone. The
// test suites call it before they look for leftover children.
bool stop_zygote(std::chrono::milliseconds timeout);

// The zygote and its spares, while they run: this process's children that
// are no isolate. Waits up to `timeout` for a spare asked for.
std::vector<int> zygote_helper_pids(std::chrono::milliseconds timeout = std::chrono::seconds(5));

// On by default; ISOLATED_ZYGOTE=0 in the environment turns it off, as does
// this (the spawn benchmark compares both ways).
void set_zygote_enabled(bool enabled);

}  // namespace isolated::detail
