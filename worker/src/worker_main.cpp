// A worker's life (DESIGN §2): read the boot record, start the runtime, greet
// the parent, wait if spawned paused, run the entry, serve events, exit.
#include "boot.hpp"
#include "crash_handler.hpp"
#include "runner_protocol.hpp"
#include "runtime.hpp"
#include "session_cleanup.hpp"
#include "supervisor_protocol.hpp"
#include "throw_trace.hpp"
#include "common/src/shm/names.hpp"
#include "common/src/shm/segment.hpp"

#include <isolated/detail/entry.hpp>
#include <isolated/error.hpp>

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <tuple>

namespace isolated::detail {
namespace {

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "isolated worker %d: %s\n", static_cast<int>(::getpid()), why.c_str());
  std::fflush(stderr);
  ::_exit(71);
}

BootRecord decode_boot_record(std::span<const std::byte> encoded) {
  return Message::decode(encoded).as<BootRecord>();
}

BootRecord read_boot_record(std::string_view name) {
  Segment segment = Segment::open(name, SegmentKind::boot);
  segment.unlink();  // the name has done its job
  std::uint64_t length = 0;
  std::memcpy(&length, segment.data(), sizeof length);
  if (length > segment.size() - sizeof length) throw DecodeError("boot record longer than its segment");
  return decode_boot_record(std::span<const std::byte>(segment.data() + sizeof length, length));
}


void set_process_name(const std::string& debug_name) {
  if (debug_name.empty()) return;
  // The kernel keeps 15 characters.
  ::prctl(PR_SET_NAME, debug_name.substr(0, 15).c_str(), 0, 0, 0);
}

void greet_parent(Runtime& runtime, const BootRecord& boot) {
  std::vector<std::byte> bytes;
  encode(std::tuple<int, std::uint64_t, int, SendPort>(static_cast<int>(Report::hello),
                                                       boot.spawn_id,
                                                       static_cast<int>(::getpid()),
                                                       runtime.control_port()),
         bytes);
  if (!runtime.post(*runtime.config().parent_supervisor, bytes, FrameKind::message)) {
    fail("the parent isolate is gone");
  }
}

void add_listeners_from_options(Runtime& runtime, const BootRecord& boot) {
  if (boot.on_error) {
    std::vector<std::byte> bytes;
    encode(std::tuple<int, const SendPort&>(static_cast<int>(Isolate::Command::add_error_listener),
                                            *boot.on_error),
           bytes);
    runtime.apply_control(Message::decode(bytes));
  }
  // on_exit is registered with the parent directly, which fires it.
}

BinaryMain binary_main = nullptr;

// What runs as the isolate, chosen before the worker greets its parent, so
// that an entry that cannot be found fails the spawn.
std::function<void(Message)> entry_of(const BootRecord& boot) {
  switch (static_cast<EntryKind>(boot.entry_kind)) {
    case EntryKind::code: {
      auto* trampoline =
          reinterpret_cast<EntryTrampoline>(const_cast<void*>(resolve_code(boot.trampoline)));
      auto* target = reinterpret_cast<AnyFunction>(const_cast<void*>(resolve_code(boot.target)));
      return [trampoline, target](Message argument) { trampoline(target, std::move(argument)); };
    }
    case EntryKind::binary_main:
      if (binary_main == nullptr) {
        throw Error("this program has no ISOLATED_WORKER_MAIN; it cannot be started by spawn_uri");
      }
      return [args = boot.args](Message argument) { binary_main(args, std::move(argument)); };
    case EntryKind::runner_service:
      return [](Message argument) { serve_runner(argument.as<SendPort>()); };
  }
  throw DecodeError("unknown entry kind " + std::to_string(boot.entry_kind));
}

template <class Read>
BootRecord boot_record_or_fail(Read read) {
  try {
    return read();
  } catch (const std::exception& e) {
    fail(std::string("cannot read the boot record: ") + e.what());
  }
}

// Everything after the boot record was read.
[[noreturn]] void run_worker_with(const BootRecord& boot) {
  // PR_SET_PDEATHSIG was set before exec (or right after the zygote's clone);
  // if the parent died before that, we were re-parented already and must not
  // run.
  if (::getppid() != boot.parent_pid) ::_exit(72);
  join_session(boot.root_pid);
  set_process_name(boot.debug_name);

  RuntimeConfig config;
  config.debug_name = boot.debug_name;
  config.inbox_name = boot.inbox_name;
  config.is_worker = true;
  config.parent_pid = boot.parent_pid;
  config.parent_supervisor = SendPort(boot.parent_inbox, kSupervisorPortId);
  config.lane_bytes = boot.lane_bytes == 0 ? kDefaultLaneCapacity
                                           : normalize_lane_capacity(boot.lane_bytes);
  config.errors_are_fatal = boot.errors_are_fatal;
  config.pause_capability = boot.pause_capability;
  config.terminate_capability = boot.terminate_capability;
  config.start_paused = boot.paused;
  Runtime& runtime = Runtime::start(std::move(config));
  install_crash_handler(runtime.inbox().doorbell().crash);
  record_throw_traces();

  std::function<void(Message)> entry;
  try {
    entry = entry_of(boot);
  } catch (const std::exception& e) {
    fail(e.what());
  }
  add_listeners_from_options(runtime, boot);
  greet_parent(runtime, boot);
  runtime.wait_while_paused();

  try {
    const auto* bytes = reinterpret_cast<const std::byte*>(boot.message.data());
    Message argument = Message::decode(std::span(bytes, boot.message.size()));
    argument.adopt_transferables();
    entry(std::move(argument));
  } catch (const std::exception& e) {
    if (runtime.report_uncaught_error(e.what(), last_throw_trace())) runtime.exit_process(70);
  } catch (...) {
    if (runtime.report_uncaught_error("a non-std::exception was thrown", last_throw_trace())) {
      runtime.exit_process(70);
    }
  }
  runtime.run_event_loop();
  runtime.exit_process(0);
}

}  // namespace

void set_binary_main(BinaryMain main) { binary_main = main; }

void start_root_runtime() {
  RuntimeConfig config;
  config.debug_name = "main";
  Runtime::start(std::move(config));
  remove_session_segments_at_exit();
}

void run_worker_if_spawned(int argc, char** argv) {
  if (argc < 3 || std::string_view(argv[1]) != kWorkerFlag) return;
  run_worker(argv[2]);
}

void run_worker(std::string_view boot_record_name) {
  run_worker_with(boot_record_or_fail([&] { return read_boot_record(boot_record_name); }));
}

void run_worker(std::span<const std::byte> encoded_boot_record) {
  run_worker_with(boot_record_or_fail([&] { return decode_boot_record(encoded_boot_record); }));
}

}  // namespace isolated::detail
