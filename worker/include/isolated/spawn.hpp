// Isolate::spawn and Isolate::spawn_uri (DESIGN §2). The templates encode the
// message here; the spawning itself is done by isolated::isolated, which
// isolated::init installs in this package (see detail::spawn_isolate below).
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
// runs (or is ready, when paused). Throws IsolateSpawnError, also when this
// process cannot spawn: the spawning side (isolated::isolated) is installed
// by isolated::init, so a worker binary, which links isolated::worker only,
// or a program that never called init, gets an error that says so.
Isolate spawn_isolate(const EntryPoint& entry, std::span<const std::byte> message,
                      const SpawnOptions& options);

// Starts the worker binary at `path` (checked first) running its
// ISOLATED_WORKER_MAIN with `args` and the encoded `message`. Throws as
// spawn_isolate does.
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
