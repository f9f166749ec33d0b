// Isolate::spawn and compute: write the boot record, launch the worker,
// watch it, wait for its hello (DESIGN §2).
#include "spawn.hpp"

#include "launcher.hpp"
#include "supervisor.hpp"
#include "worker_binary_check.hpp"
#include "zygote_client.hpp"
#include "common/src/os/environment.hpp"
#include "common/src/shm/segment.hpp"
#include "worker/src/boot.hpp"
#include "worker/src/modules.hpp"
#include "worker/src/runtime.hpp"
#include "worker/src/spawner.hpp"

#include <isolated/error.hpp>

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace isolated::detail {

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
Segment write_boot_record(std::span<const std::byte> bytes) {
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
  Supervisor::attach_to_runtime();
  return *runtime;
}

struct Launched {
  int pid;
  SendPort control;
};

struct StartedWorker {
  int pid = 0;
  // Holds the boot record, if it is in a segment: the worker unlinks it once
  // it read it; if it never gets that far, this does when it goes.
  Segment boot_record;
};

// A worker of this program is forked from the zygote where one can serve;
// any other (a worker binary, or no zygote) is exec'd. Either way the
// supervisor watches it from here on.
StartedWorker start_worker(const std::string& program, std::span<const std::byte> boot_record,
                           const LaunchOptions& options, const ChildWatch& watch) {
  StartedWorker started;
  if (program == kThisProgram) {
    BootRecordHandoff handoff;
    if (boot_record.size() <= kMaxInlineBootRecord) {
      handoff.encoded = boot_record;
    } else {
      started.boot_record = write_boot_record(boot_record);
      handoff.segment = started.boot_record.name();
    }
    if (const auto pid = start_from_zygote(handoff, options, watch, handshake_timeout())) {
      started.pid = *pid;
      return started;
    }
  }
  if (!started.boot_record.valid()) started.boot_record = write_boot_record(boot_record);
  started.pid = launch_process(program, {std::string(kWorkerFlag), started.boot_record.name()},
                               options);
  Supervisor::get().watch(started.pid, watch);
  return started;
}

// What a worker runs: code of this program (Isolate::spawn, compute), or
// another program's ISOLATED_WORKER_MAIN or runner service (spawn_uri).
struct WorkerEntry {
  std::string program = kThisProgram;
  EntryKind kind = EntryKind::code;
  EntryPoint code;                // for EntryKind::code
  std::vector<std::string> args;  // for EntryKind::binary_main
};

Launched launch(const WorkerEntry& entry, std::span<const std::byte> message,
                const SpawnOptions& options, const Capability& pause, const Capability& terminate,
                std::function<void(const ExitInfo&)> on_end,
                const LaunchOptions& launch_options = {}) {
  Runtime& runtime = runtime_for_spawn();
  if (entry.program != kThisProgram) check_worker_binary(entry.program);
  BootRecord boot;
  boot.root_pid = session_root_pid();
  boot.parent_pid = static_cast<int>(::getpid());
  boot.parent_inbox = runtime.inbox_name();
  boot.spawn_id = next_spawn_id();
  boot.inbox_name = make_segment_name(SegmentKind::inbox);
  boot.debug_name = options.debug_name;
  boot.entry_kind = static_cast<std::uint8_t>(entry.kind);
  boot.args = entry.args;
  if (entry.kind == EntryKind::code) {
    try {
      boot.trampoline = locate_code(reinterpret_cast<const void*>(entry.code.trampoline));
      boot.target = locate_code(reinterpret_cast<const void*>(entry.code.target));
    } catch (const Error& e) {
      throw IsolateSpawnError(std::string("cannot spawn: ") + e.what());
    }
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

  std::vector<std::byte> encoded;
  encode(boot, encoded);
  const ChildWatch watch{boot.spawn_id, boot.inbox_name, options.on_exit, options.on_error,
                         std::move(on_end)};
  // Its hello comes to the supervisor port; nobody receives there.
  const ExpectedTraffic hello(runtime);
  // Kept until the hello: it may hold the boot record.
  const StartedWorker started = start_worker(entry.program, encoded, launch_options, watch);
  const int pid = started.pid;
  // Whatever the hello brings, the zygote forks the next spare then.
  std::optional<SendPort> control;
  try {
    control = Supervisor::get().wait_for_hello(pid, handshake_timeout());
  } catch (...) {
    replenish_zygote_spare(handshake_timeout());
    throw;
  }
  replenish_zygote_spare(handshake_timeout());
  return Launched{pid, std::move(*control)};
}

}  // namespace

namespace {

// An isolate running `worker`, with its own capabilities.
Isolate spawn_program(WorkerEntry worker, std::span<const std::byte> message,
                      SpawnOptions options, std::function<void(const ExitInfo&)> on_end) {
  if (options.debug_name.empty() && worker.program != kThisProgram) {
    options.debug_name = worker.program.substr(worker.program.find_last_of('/') + 1);
  }
  const Capability pause;
  const Capability terminate;
  Launched launched = launch(worker, message, options, pause, terminate, std::move(on_end));
  return known_isolate(std::move(launched.control), pause, terminate, launched.pid,
                       options.debug_name);
}

}  // namespace

Isolate spawn_code_isolate(const EntryPoint& entry, std::span<const std::byte> message,
                           const SpawnOptions& options) {
  WorkerEntry worker;
  worker.code = entry;
  return spawn_program(std::move(worker), message, options, {});
}

Isolate spawn_binary_isolate(const std::string& path, const std::vector<std::string>& args,
                             std::span<const std::byte> message, const SpawnOptions& options) {
  WorkerEntry worker;
  worker.program = path;
  worker.kind = EntryKind::binary_main;
  worker.args = args;
  return spawn_program(std::move(worker), message, options, {});
}

void install_spawning() {
  static const Spawner spawner{&spawn_code_isolate, &spawn_binary_isolate};
  install_spawner(spawner);
}

Isolate spawn_runner_service_watched(const std::string& program,
                                     std::span<const std::byte> message,
                                     const SpawnOptions& options,
                                     std::function<void(const ExitInfo&)> on_end) {
  WorkerEntry worker;
  worker.program = program;
  worker.kind = EntryKind::runner_service;
  return spawn_program(std::move(worker), message, options, std::move(on_end));
}

int spawn_with_reply_port(ReplyPortSpawn spawn) {
  Runtime& runtime = runtime_for_spawn();
  // The reply settles a future or an outcome; nobody receives it in a
  // ReceivePort, so the service thread must drain it at once.
  auto reply_expected = std::make_shared<ExpectedTraffic>(runtime);
  // The port's handler lives as long as the port: until the isolate's end.
  const std::uint64_t reply_port = runtime.open_direct_port(
      [reply_expected, on_reply = std::move(spawn.on_reply)](Message reply) {
        reply_expected->release();
        on_reply(std::move(reply));
      });
  std::vector<std::byte> message;
  SpawnOptions options;
  options.debug_name = spawn.debug_name;
  try {
    spawn.encode_message(SendPort(runtime.inbox_name(), reply_port), message);
    WorkerEntry worker;
    worker.code = spawn.entry;
    return launch(
               worker, message, options, Capability(), Capability(),
               [&runtime, reply_port, reply_expected,
                on_end = std::move(spawn.on_end)](const ExitInfo& exit) {
                 reply_expected->release();
                 runtime.close_port(reply_port);
                 on_end(exit);
               },
               spawn.launch)
        .pid;
  } catch (...) {
    // No reply will come.
    runtime.close_port(reply_port);
    throw;
  }
}

namespace {

// One compute call's outcome, settled once: by its reply, which the worker
// sends before it ends, or else by its end. The supervisor drains the dead
// worker's last messages before it reports the end, so a reply that was sent
// always wins.
class ComputeOutcome {
 public:
  explicit ComputeOutcome(ComputeDone done) : done_(std::move(done)) {}

  // On the draining thread, as soon as the reply arrives: the future is
  // ready while the worker is still on its way out (its end stays watched).
  void on_reply(Message reply) {
    if (settled_.exchange(true)) return;
    done_(std::move(reply), ExitInfo{});
  }

  // On the supervisor's thread, once the worker has ended and been reaped.
  void on_end(const ExitInfo& exit) {
    if (settled_.exchange(true)) return;
    done_(std::nullopt, exit);
  }

 private:
  ComputeDone done_;
  std::atomic<bool> settled_{false};
};

}  // namespace

void spawn_compute(const EntryPoint& entry, const EncodeMessage& encode_message, ComputeDone done) {
  auto outcome = std::make_shared<ComputeOutcome>(std::move(done));
  ReplyPortSpawn spawn;
  spawn.entry = entry;
  spawn.encode_message = encode_message;
  spawn.debug_name = "compute";
  spawn.on_reply = [outcome](Message reply) { outcome->on_reply(std::move(reply)); };
  spawn.on_end = [outcome](const ExitInfo& exit) { outcome->on_end(exit); };
  spawn_with_reply_port(std::move(spawn));
}

}  // namespace isolated::detail
