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

// Isolate::spawn_uri: the worker binary at `path` running its
// ISOLATED_WORKER_MAIN with `args`.
Isolate spawn_binary_isolate(const std::string& path, const std::vector<std::string>& args,
                             std::span<const std::byte> message, const SpawnOptions& options);

// A one-shot isolate with a reply port: what compute and isolated::testing's
// trials start.
struct ReplyPortSpawn {
  EntryPoint entry;
  EncodeMessage encode_message;  // the message, for the fresh reply port
  std::string debug_name;
  LaunchOptions launch;
  // Every message to the reply port, as soon as it arrives, on the thread
  // that drains this process's inbox (quick, never waiting for messages).
  std::function<void(Message reply)> on_reply;
  // Once, when the isolate has ended and been reaped, on the supervisor's
  // thread; by then its last messages were taken in and the reply port is
  // closed.
  std::function<void(const ExitInfo&)> on_end;
};

// Spawns it; returns its pid. Throws IsolateSpawnError.
int spawn_with_reply_port(ReplyPortSpawn spawn);

// Starts `program` (kThisProgram, or a worker binary: spawn_uri) running
// its runner service, for an IsolateRunner, which must hear of the end to
// fail its pending tasks. `on_end` is called once, on the supervisor's thread,
// when the worker has ended and been reaped (also if the spawn failed).
Isolate spawn_runner_service_watched(const std::string& program, std::span<const std::byte> message,
                                     const SpawnOptions& options,
                                     std::function<void(const ExitInfo&)> on_end);

}  // namespace isolated::detail
