// Isolate::spawn and Isolate::spawn_uri: the spawning side (DESIGN §2).
#pragma once

#include <isolated/detail/encode.hpp>
#include <isolated/detail/entry.hpp>
#include <isolated/isolate.hpp>
#include <isolated/transferable.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace isolated::detail {

// Starts a worker running `entry` with the encoded `message`; returns once it
// runs (or is ready, when paused). Throws IsolateSpawnError.
Isolate spawn_isolate(const EntryPoint& entry, std::span<const std::byte> message,
                      const SpawnOptions& options);

// Starts the worker binary at `path` (checked first) running its
// ISOLATED_WORKER_MAIN with `args` and the encoded `message`.
Isolate spawn_uri_isolate(const std::string& path, const std::vector<std::string>& args,
                          std::span<const std::byte> message, const SpawnOptions& options);

}  // namespace isolated::detail

namespace isolated::detail {

// Encodes `message` and spawns with `spawn(bytes)`; transferables in the
// message are handed over only if the spawn succeeds.
template <class Arg, class Spawn>
Isolate spawn_with_message(const Arg& message, Spawn spawn) {
  TransferScope transfers;
  std::vector<std::byte> bytes;
  encode(message, bytes);
  Isolate isolate = spawn(std::span<const std::byte>(bytes));
  transfers.commit();
  return isolate;
}

}  // namespace isolated::detail

namespace isolated {

template <class Entry, class Arg>
Isolate Isolate::spawn(Entry entry, Arg&& message, SpawnOptions options) {
  const detail::EntryPoint entry_point = detail::make_entry_point(entry);
  return detail::spawn_with_message(message, [&](std::span<const std::byte> bytes) {
    return detail::spawn_isolate(entry_point, bytes, options);
  });
}

template <class Arg>
Isolate Isolate::spawn_uri(const std::string& path, const std::vector<std::string>& args,
                           Arg&& message, SpawnOptions options) {
  return detail::spawn_with_message(message, [&](std::span<const std::byte> bytes) {
    return detail::spawn_uri_isolate(path, args, bytes, options);
  });
}

}  // namespace isolated
