// Isolate::spawn and compute: write the boot record, launch the worker,
// watch it, wait for its hello (DESIGN §2).
#include "boot.hpp"
#include "launcher.hpp"
#include "modules.hpp"
#include "os/environment.hpp"
#include "runtime.hpp"
#include "shm/segment.hpp"
#include "spawn_watched.hpp"
#include "supervisor.hpp"

#include <isolated/error.hpp>
#include <isolated/receive_port.hpp>
#include <isolated/spawn.hpp>

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace isolated::detail {

// Defined in init.cpp: makes this process's runtime report to its supervisor.
void ensure_supervision();

namespace {

std::chrono::milliseconds handshake_timeout() {
  static const std::chrono::milliseconds timeout = [] {
    const long ms = environment_number("ISOLATED_HANDSHAKE_TIMEOUT_MS").value_or(0);
    return std::chrono::milliseconds(ms > 0 ? ms : 10000);
  }();
  return timeout;
}

std::uint64_t next_spawn_id() {
  static std::atomic<std::uint64_t> counter{1};
  return counter.fetch_add(1);
}

// The boot record in a fresh segment: [u64 length][msgpack record].
Segment write_boot_record(const BootRecord& boot) {
  std::vector<std::byte> bytes;
  encode(boot, bytes);
  Segment segment = Segment::create(SegmentKind::boot, sizeof(std::uint64_t) + bytes.size());
  const std::uint64_t length = bytes.size();
  std::memcpy(segment.data(), &length, sizeof length);
  std::memcpy(segment.data() + sizeof length, bytes.data(), bytes.size());
  return segment;
}

Runtime& runtime_for_spawn() {
  Runtime* runtime = Runtime::current();
  if (runtime == nullptr) {
    throw IsolateSpawnError(
        "cannot spawn an isolate: isolated::init(argc, argv) was not called. A worker runs "
        "this program again; call init first thing in main so that the worker runs the isolate "
        "instead of main");
  }
  ensure_supervision();
  return *runtime;
}

struct Launched {
  int pid;
  SendPort control;
};

Launched launch(const EntryPoint& entry, std::span<const std::byte> message,
                const SpawnOptions& options, const Capability& pause, const Capability& terminate,
                std::function<void(const ExitInfo&)> on_end) {
  Runtime& runtime = runtime_for_spawn();
  BootRecord boot;
  boot.root_pid = session_root_pid();
  boot.parent_pid = static_cast<int>(::getpid());
  boot.parent_inbox = runtime.inbox_name();
  boot.spawn_id = next_spawn_id();
  boot.debug_name = options.debug_name;
  try {
    boot.trampoline = locate_code(reinterpret_cast<const void*>(entry.trampoline));
    boot.target = locate_code(reinterpret_cast<const void*>(entry.target));
  } catch (const Error& e) {
    throw IsolateSpawnError(std::string("cannot spawn: ") + e.what());
  }
  boot.paused = options.paused;
  boot.errors_are_fatal = options.errors_are_fatal;
  boot.on_exit = options.on_exit;
  boot.on_error = options.on_error;
  boot.lane_bytes = options.lane_bytes;
  boot.pause_capability = pause;
  boot.terminate_capability = terminate;
  const auto* first = reinterpret_cast<const std::uint8_t*>(message.data());
  boot.message.assign(first, first + message.size());

  // The worker unlinks the boot record once it read it; if it never gets that
  // far, `segment` unlinks it here when this function returns.
  Segment segment = write_boot_record(boot);
  const int pid = launch_process("/proc/self/exe", {std::string(kWorkerFlag), segment.name()});
  Supervisor::get().watch(pid, boot.spawn_id, options.on_exit, options.on_error, std::move(on_end));
  SendPort control = Supervisor::get().wait_for_hello(pid, handshake_timeout());
  return Launched{pid, std::move(control)};
}

}  // namespace

Isolate spawn_isolate(const EntryPoint& entry, std::span<const std::byte> message,
                      const SpawnOptions& options) {
  return spawn_isolate_watched(entry, message, options, {});
}

Isolate spawn_isolate_watched(const EntryPoint& entry, std::span<const std::byte> message,
                              const SpawnOptions& options,
                              std::function<void(const ExitInfo&)> on_end) {
  const Capability pause;
  const Capability terminate;
  Launched launched = launch(entry, message, options, pause, terminate, std::move(on_end));
  return Isolate(std::move(launched.control), pause, terminate);
}

void spawn_compute(const EntryPoint& entry,
                   const std::function<void(const SendPort& reply, std::vector<std::byte>& out)>&
                       encode_message,
                   ComputeDone done) {
  runtime_for_spawn();
  // The reply port lives until the worker has ended: its result is read then
  // (Isolate::exit made sure it arrived before the worker ended).
  auto reply = std::make_shared<ReceivePort>();
  std::vector<std::byte> message;
  encode_message(reply->send_port(), message);
  SpawnOptions options;
  options.debug_name = "compute";
  launch(entry, message, options, Capability(), Capability(),
         [reply, done = std::move(done)](const ExitInfo& exit) {
           std::optional<Message> result = reply->try_receive();
           reply->close();
           done(std::move(result), exit);
         });
}

}  // namespace isolated::detail
