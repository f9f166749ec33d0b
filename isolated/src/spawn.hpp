// The spawning side of this package (spawn.cpp): what Isolate::spawn,
// spawn_uri, compute and the runners start workers with (DESIGN §2).
#pragma once

#include "launcher.hpp"

#include <isolated/compute.hpp>
#include <isolated/detail/entry.hpp>
#include <isolated/isolate.hpp>

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace isolated::detail {

// A worker that runs this same program (re-run, DESIGN §2).
inline constexpr const char* kThisProgram = "/proc/self/exe";

// Installs spawn_code_isolate and spawn_binary_isolate as what
// Isolate::spawn and spawn_uri call (worker/src/spawner.hpp). isolated::init
// calls it.
void install_spawning();

// Isolate::spawn: a worker of this program running `entry`.
Isolate spawn_code_isolate(const EntryPoint& entry, std::span<const std::byte> message,
                           const SpawnOptions& options);

// The same with per-child launch settings: descriptors for the worker's
// stdin, stdout and stderr, no core dump (LaunchOptions). For the tests'
// harness, until SpawnOptions carries them.
Isolate spawn_code_isolate_launched(const EntryPoint& entry, std::span<const std::byte> message,
                                    const SpawnOptions& options,
                                    const LaunchOptions& launch_options);

// Isolate::spawn_uri: the worker binary at `path` running its
// ISOLATED_WORKER_MAIN with `args`.
Isolate spawn_binary_isolate(const std::string& path, const std::vector<std::string>& args,
                             std::span<const std::byte> message, const SpawnOptions& options);

// Starts `program` (kThisProgram, or a worker binary: spawn_uri) running
// its runner service, for an IsolateRunner, which must hear of the end to
// fail its pending tasks. `on_end` is called once, on the supervisor's thread,
// when the worker has ended and been reaped (also if the spawn failed).
Isolate spawn_runner_service_watched(const std::string& program, std::span<const std::byte> message,
                                     const SpawnOptions& options,
                                     std::function<void(const ExitInfo&)> on_end);

}  // namespace isolated::detail
