// Worker binaries (DESIGN §9): a program of its own that a host starts as an
// isolate with Isolate::spawn_uri, or as a runner with
// IsolateRunner::spawn_uri. It links isolated::worker only.
//
//   void serve(std::vector<std::string> args, isolated::Message message) { ... }
//   ISOLATED_WORKER_MAIN(serve)
//
//   int square(int x) { return x * x; }
//   ISOLATED_EXPORT("square", square);  // runner.run<int>("square", 7)
//
// Started by a host, `fn` runs as the isolate with the host's arguments and
// message, with everything an isolate has (ports, control, crash report,
// death with its parent). Started by hand, it is a root isolate of its own:
// `fn` gets the command-line arguments and a nil message, and can find a
// host's port with name_server::lookup.
#pragma once

#include <isolated/capability.hpp>
#include <isolated/detail/exports.hpp>
#include <isolated/error.hpp>
#include <isolated/isolate.hpp>
#include <isolated/message.hpp>
#include <isolated/name_server.hpp>
#include <isolated/receive_port.hpp>
#include <isolated/send.hpp>
#include <isolated/send_port.hpp>
#include <isolated/spawn.hpp>

#include <string>
#include <vector>

namespace isolated::detail {

using WorkerMain = void (*)(std::vector<std::string> args, Message message);

// main of a worker binary: runs `fn` as described above and ends the process.
[[noreturn]] void run_worker_binary(int argc, char** argv, WorkerMain fn);

}  // namespace isolated::detail

// The section tells a host, before it starts the program, that this is a
// worker binary (IsolateSpawnError at once otherwise, not a handshake timeout).
// `retain` keeps it through the linker's --gc-sections.
#define ISOLATED_WORKER_MAIN(fn)                                                   \
  [[gnu::used, gnu::retain, gnu::section(".isolated_worker")]] extern const char   \
      isolated_worker_marker[] = "isolated worker binary";                         \
  int main(int argc, char** argv) { ::isolated::detail::run_worker_binary(argc, argv, fn); }

#define ISOLATED_DETAIL_CONCAT2(a, b) a##b
#define ISOLATED_DETAIL_CONCAT(a, b) ISOLATED_DETAIL_CONCAT2(a, b)

// Registers `fn` (a plain function R(A)) under `name`, at namespace scope
// (with or without a semicolon after it).
#define ISOLATED_EXPORT(name, fn)                                  \
  [[maybe_unused]] static const bool ISOLATED_DETAIL_CONCAT(       \
      isolated_exported_, __COUNTER__) = ::isolated::detail::export_function(name, &fn);
