// Isolate::spawn and spawn_uri forward to the installed spawning side
// (spawner.hpp).
#include "spawner.hpp"

#include <isolated/error.hpp>
#include <isolated/spawn.hpp>

#include <atomic>

namespace isolated::detail {
namespace {

std::atomic<const Spawner*> installed{nullptr};

const Spawner& require_spawner() {
  const Spawner* spawner = installed.load(std::memory_order_acquire);
  if (spawner == nullptr) {
    throw IsolateSpawnError(
        "cannot spawn an isolate: isolated::init(argc, argv) was not called. A worker runs "
        "this program again; call init first thing in main so that the worker runs the isolate "
        "instead of main (and link isolated::isolated: a worker binary, which links "
        "isolated::worker only, cannot spawn)");
  }
  return *spawner;
}

}  // namespace

void install_spawner(const Spawner& spawner) noexcept {
  installed.store(&spawner, std::memory_order_release);
}

Isolate spawn_isolate(const EntryPoint& entry, std::span<const std::byte> message,
                      const SpawnOptions& options) {
  return require_spawner().spawn(entry, message, options);
}

Isolate spawn_uri_isolate(const std::string& path, const std::vector<std::string>& args,
                          std::span<const std::byte> message, const SpawnOptions& options) {
  return require_spawner().spawn_uri(path, args, message, options);
}

}  // namespace isolated::detail
