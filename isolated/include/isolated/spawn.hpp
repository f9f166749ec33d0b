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

namespace isolated {

template <class Entry, class Arg>
Isolate Isolate::spawn(Entry entry, Arg&& message, SpawnOptions options) {
  const detail::EntryPoint entry_point = detail::make_entry_point(entry);
  detail::TransferScope transfers;  // handed over only if the spawn succeeds
  std::vector<std::byte> bytes;
  detail::encode(message, bytes);
  Isolate isolate = detail::spawn_isolate(entry_point, bytes, options);
  transfers.commit();
  return isolate;
}

template <class Arg>
Isolate Isolate::spawn_uri(const std::string& path, const std::vector<std::string>& args,
                           Arg&& message, SpawnOptions options) {
  detail::TransferScope transfers;  // handed over only if the spawn succeeds
  std::vector<std::byte> bytes;
  detail::encode(message, bytes);
  Isolate isolate = detail::spawn_uri_isolate(path, args, bytes, options);
  transfers.commit();
  return isolate;
}

}  // namespace isolated
