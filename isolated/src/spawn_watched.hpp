// Spawning an isolate whose end somebody in this process must hear about (an
// IsolateRunner fails its pending tasks then): Isolate::spawn plus the
// supervisor's end notification.
#pragma once

#include <isolated/compute.hpp>
#include <isolated/detail/entry.hpp>
#include <isolated/isolate.hpp>

#include <cstddef>
#include <functional>
#include <span>
#include <string>

namespace isolated::detail {

// A worker that runs this same program (re-run, DESIGN §2).
inline constexpr const char* kThisProgram = "/proc/self/exe";

// Starts `program` (kThisProgram, or a worker binary: spawn_uri) running
// its runner service. `on_end` is called once, on the supervisor's thread,
// when the worker has ended and been reaped (also if the spawn failed).
Isolate spawn_runner_service_watched(const std::string& program, std::span<const std::byte> message,
                                     const SpawnOptions& options,
                                     std::function<void(const ExitInfo&)> on_end);

}  // namespace isolated::detail
