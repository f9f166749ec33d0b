// The spawning side, as the worker runtime sees it. Spawning needs the
// launcher and the supervisor, which live in isolated::isolated; this package
// (isolated::worker, all that a worker binary links) only forwards
// Isolate::spawn and spawn_uri to whatever isolated::init installed here.
#pragma once

#include <isolated/detail/entry.hpp>
#include <isolated/isolate.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace isolated::detail {

struct Spawner {
  Isolate (*spawn)(const EntryPoint& entry, std::span<const std::byte> message,
                   const SpawnOptions& options);
  Isolate (*spawn_uri)(const std::string& path, const std::vector<std::string>& args,
                       std::span<const std::byte> message, const SpawnOptions& options);
};

// Called once by isolated::init in a root; `spawner` must live forever.
void install_spawner(const Spawner& spawner) noexcept;

}  // namespace isolated::detail
