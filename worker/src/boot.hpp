// The boot record: everything a parent tells a worker it starts. It travels
// in a shared-memory segment of kind "boot" whose name is the worker's only
// command-line argument after --isolated-worker; the worker unlinks it at once.
#pragma once

#include "modules.hpp"

#include <isolated/capability.hpp>
#include <isolated/message.hpp>
#include <isolated/send_port.hpp>

#include <cstdint>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace isolated::detail {

inline constexpr std::string_view kWorkerFlag = "--isolated-worker";

// What the worker runs.
enum class EntryKind : std::uint8_t {
  code = 0,           // `trampoline(target, message)`: code addresses in this same binary
  binary_main = 1,    // a worker binary's ISOLATED_WORKER_MAIN(fn): fn(args, message)
  runner_service = 2  // serve_runner(message as the host's reply port)
};

struct BootRecord {
  int root_pid = 0;
  int parent_pid = 0;
  std::string parent_inbox;
  std::uint64_t spawn_id = 0;
  std::string debug_name;
  CodeAddress trampoline;
  CodeAddress target;
  bool paused = false;
  bool errors_are_fatal = true;
  std::optional<SendPort> on_exit;
  std::optional<SendPort> on_error;
  std::uint64_t lane_bytes = 0;
  Capability pause_capability;
  Capability terminate_capability;
  std::vector<std::uint8_t> message;  // the encoded argument of the entry
  std::uint8_t entry_kind = 0;         // an EntryKind
  std::vector<std::string> args;       // for binary_main
  // The worker's inbox, named by the parent: it removes it when the worker
  // ends, even one killed before it said hello.
  std::string inbox_name;
  MSGPACK_DEFINE(root_pid, parent_pid, parent_inbox, spawn_id, debug_name, trampoline, target,
                 paused, errors_are_fatal, on_exit, on_error, lane_bytes, pause_capability,
                 terminate_capability, message, entry_kind, args, inbox_name)
};

// A worker binary's main registers its ISOLATED_WORKER_MAIN function here
// before it calls run_worker_if_spawned.
using BinaryMain = void (*)(std::vector<std::string> args, Message message);
void set_binary_main(BinaryMain main);

// If this process was started as a worker (argv[1] is kWorkerFlag), runs the
// isolate and ends the process; otherwise returns.
void run_worker_if_spawned(int argc, char** argv);

// What a worker does once it runs, however it was started (exec'd with
// kWorkerFlag, or forked by the zygote, isolated/src/zygote_spare.cpp): reads
// the boot record of that name (a segment: [u64 length][msgpack record]),
// joins the session, names itself, starts the runtime, installs the crash
// handler, greets its parent, runs the entry and the event loop, and ends the
// process.
[[noreturn]] void run_worker(std::string_view boot_record_name);
// The same with the msgpack record itself (the zygote's spare gets it inline).
[[noreturn]] void run_worker(std::span<const std::byte> encoded_boot_record);

// Otherwise: starts this process's runtime as a root isolate, whose session's
// segments go when it ends (isolated::init, a worker binary started by hand).
void start_root_runtime();

}  // namespace isolated::detail
