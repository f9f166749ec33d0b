// The fatal-signal handler (crash_handler.hpp). Everything the handler
// touches is prepared at install time; the handler itself only reads memory,
// writes the area and makes async-signal-safe calls (gettid, sigaction, raise,
// nanosleep, _Unwind_Backtrace; the last is safe in practice with GCC >= 12
// and glibc >= 2.35, which find unwind tables through the lock-free
// _dl_find_object, and once warmed up at install time).
#include "crash_handler.hpp"

#include "crash_packet.hpp"
#include "common/src/os/syscall.hpp"

#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace isolated::detail {
namespace {

using namespace crash_packet;

// Child side. Everything the handler touches is prepared at install time; the
// handler itself only reads memory, writes the area and makes async-signal-safe
// calls (gettid, sigaction, raise, nanosleep, _Unwind_Backtrace; the last is
// safe in practice with GCC >= 12 and glibc >= 2.35, which find unwind tables
// through the lock-free _dl_find_object, and once warmed up at install time).
// ---------------------------------------------------------------------------

struct ModuleRecord {
  std::uintptr_t bias;
  std::uintptr_t start;
  std::uintptr_t end;
  std::string path;
};

// Never freed: the handler may run during exit, after static destructors.
// A refresh keeps the previous snapshot reachable, since a handler running on
// another thread may still be reading it.
struct ModuleSnapshot {
  std::vector<ModuleRecord> modules;
  const ModuleSnapshot* previous;
};

std::atomic<CrashReportArea*> g_area{nullptr};
std::atomic<const ModuleSnapshot*> g_snapshot{nullptr};
std::atomic<pid_t> g_writer{0};        // the thread writing the report
std::atomic<bool> g_salvaging{false};  // the writer faulted and is publishing
std::atomic<int> g_first_signal{0};
std::atomic<bool> g_prepared{false};  // the handlers are in place
static_assert(std::atomic<pid_t>::is_always_lock_free && std::atomic<bool>::is_always_lock_free &&
              std::atomic<int>::is_always_lock_free);

constexpr int kFatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};

int collect_module(dl_phdr_info* info, std::size_t, void* data) {
  auto& modules = *static_cast<std::vector<ModuleRecord>*>(data);
  std::uintptr_t low = UINTPTR_MAX;
  std::uintptr_t high = 0;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& segment = info->dlpi_phdr[i];
    if (segment.p_type != PT_LOAD) continue;
    low = std::min<std::uintptr_t>(low, segment.p_vaddr);
    high = std::max<std::uintptr_t>(high, segment.p_vaddr + segment.p_memsz);
  }
  if (low >= high) return 0;
  std::string path = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (path.empty() && modules.empty()) {
    // The main executable comes first, with no name.
    char buffer[PATH_MAX];
    const ssize_t length = ::readlink("/proc/self/exe", buffer, sizeof buffer);
    if (length > 0) path.assign(buffer, static_cast<std::size_t>(length));
  }
  modules.push_back(
      {info->dlpi_addr, info->dlpi_addr + low, info->dlpi_addr + high, std::move(path)});
  return 0;
}

// The handler's writes go through here: the area is plain shared memory, and
// memcpy keeps unaligned packet fields legal.
void put(CrashReportArea& area, std::size_t offset, const void* bytes, std::size_t size) noexcept {
  if (offset <= kCrashTextBytes && size <= kCrashTextBytes - offset) {
    std::memcpy(area.text + offset, bytes, size);
  }
}

void publish_header(CrashReportArea& area, const PacketHeader& header,
                    std::size_t length) noexcept {
  put(area, 0, &header, sizeof header);
  area.text_length = static_cast<std::uint32_t>(length);
}

struct Unwinding {
  CrashReportArea* area;
  PacketHeader* header;
  int steps;
  bool past_signal_frame;
};

_Unwind_Reason_Code record_frame(_Unwind_Context* context, void* argument) {
  auto& state = *static_cast<Unwinding*>(argument);
  if (++state.steps > kMaxUnwindSteps) return _URC_END_OF_STACK;
  int exact = 0;  // set for the interrupted frame: its IP is the faulting instruction
  std::uintptr_t ip = _Unwind_GetIPInfo(context, &exact);
  if (ip == 0) return _URC_END_OF_STACK;
  if (exact != 0 && !state.past_signal_frame) {
    // Everything before was the handler itself: start over at the crash.
    state.past_signal_frame = true;
    state.header->frame_count = 0;
  }
  if (exact == 0) --ip;  // a return address: step back into the call
  if (state.header->frame_count >= kMaxFrames) {
    return state.past_signal_frame ? _URC_END_OF_STACK : _URC_NO_REASON;
  }
  if (state.area == nullptr) return _URC_NO_REASON;  // the warm-up run at install time
  const std::uint64_t address = ip;
  put(*state.area, kFramesOffset + state.header->frame_count * sizeof address, &address,
      sizeof address);
  ++state.header->frame_count;
  publish_header(*state.area, *state.header,
                 kFramesOffset + state.header->frame_count * sizeof address);
  return _URC_NO_REASON;
}

const ModuleRecord* module_of(const ModuleSnapshot& snapshot, std::uint64_t address) noexcept {
  for (const ModuleRecord& module : snapshot.modules) {
    if (module.start <= address && address < module.end) return &module;
  }
  return nullptr;
}

void write_modules(CrashReportArea& area, PacketHeader& header) noexcept {
  const ModuleSnapshot* snapshot = g_snapshot.load(std::memory_order_acquire);
  if (snapshot == nullptr) return;
  const ModuleRecord* used[kMaxFrames];
  std::size_t used_count = 0;
  for (std::size_t i = 0; i < header.frame_count; ++i) {
    std::uint64_t address = 0;
    std::memcpy(&address, area.text + kFramesOffset + i * sizeof address, sizeof address);
    const ModuleRecord* module = module_of(*snapshot, address);
    if (module != nullptr && std::find(used, used + used_count, module) == used + used_count) {
      used[used_count++] = module;
    }
  }
  header.modules_offset = static_cast<std::uint32_t>(kFramesOffset + header.frame_count * 8);
  std::size_t path_at = header.modules_offset + used_count * sizeof(ModuleEntry);
  for (std::size_t i = 0; i < used_count; ++i) {
    const ModuleRecord& module = *used[i];
    ModuleEntry entry{module.bias, module.start, module.end, 0, 0};
    if (module.path.size() <= kCrashTextBytes - path_at) {
      put(area, path_at, module.path.data(), module.path.size());
      entry.path_offset = static_cast<std::uint32_t>(path_at);
      entry.path_length = static_cast<std::uint32_t>(module.path.size());
      path_at += module.path.size();
    } else {
      header.flags |= kFlagPathsDropped;
    }
    put(area, header.modules_offset + i * sizeof entry, &entry, sizeof entry);
    ++header.module_count;
    publish_header(area, header, path_at);
  }
}

void write_report(int signal, const siginfo_t& info) noexcept {
  CrashReportArea* area = g_area.load(std::memory_order_acquire);
  if (area == nullptr) return;
  area->state.store(kStateWriting, std::memory_order_relaxed);
  area->signal = signal;
  // For a signal sent by a process (si_code <= 0) the union holds si_pid, not si_addr.
  const bool fault = info.si_code > 0;
  area->fault_address = fault ? reinterpret_cast<std::uintptr_t>(info.si_addr) : 0;
  PacketHeader header{};
  header.magic = kPacketMagic;
  header.version = kPacketVersion;
  header.code = info.si_code;
  header.pid = ::getpid();
  header.sender_pid = fault ? 0 : info.si_pid;
  header.frames_offset = kFramesOffset;
  header.modules_offset = kFramesOffset;
  publish_header(*area, header, kFramesOffset);

  Unwinding unwinding{area, &header, 0, false};
  _Unwind_Backtrace(record_frame, &unwinding);
  write_modules(*area, header);
  area->state.store(kStateComplete, std::memory_order_release);
}

// The writer faulted inside write_report: mark what it wrote as cut short.
void salvage_report() noexcept {
  CrashReportArea* area = g_area.load(std::memory_order_acquire);
  if (area == nullptr || area->state.load(std::memory_order_relaxed) != kStateWriting) return;
  PacketHeader header{};
  std::memcpy(&header, area->text, sizeof header);
  header.flags |= kFlagTruncated;
  put(*area, 0, &header, sizeof header);
  area->state.store(kStateComplete, std::memory_order_release);
}

// Ends the process by `signal` with its default action (core dump and all),
// so the parent sees exactly the signal the child died of.
void die_by(int signal) noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  ::sigaction(signal, &action, nullptr);
  ::raise(signal);  // not blocked (SA_NODEFER): the process ends here
  // Were it blocked after all, returning re-runs a faulting instruction,
  // or unblocks the raised signal; either ends the process by default.
}

void on_fatal_signal(int signal, siginfo_t* info, void*) {
  const pid_t self = ::gettid();
  pid_t writer = 0;
  if (g_writer.compare_exchange_strong(writer, self)) {
    g_first_signal.store(signal);
    write_report(signal, *info);
  } else if (writer == self) {
    // A fault while writing (a smashed stack can trip the unwinder; SA_NODEFER
    // lets it reach us). Publish once; a fault while publishing comes here
    // again and goes straight to dying.
    if (!g_salvaging.exchange(true)) salvage_report();
    signal = g_first_signal.load();
  } else {
    // Another thread crashed first; its report is the one, and its re-raise
    // ends the process while we sleep here. Ours only if it hangs.
    timespec rest{2, 0};
    while (::nanosleep(&rest, &rest) == -1 && errno == EINTR) {
    }
  }
  die_by(signal);
}

}  // namespace

void install_crash_signal_stack() {
  // Room for the handler and the unwinder, also when ASan enlarges frames.
  constexpr std::size_t kStackBytes = 128 * 1024;
  stack_t current{};
  if (::sigaltstack(nullptr, &current) == 0 && (current.ss_flags & SS_DISABLE) == 0 &&
      current.ss_size >= kStackBytes) {
    return;  // this thread has one big enough (ours, from an earlier call)
  }
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  // A guard page below: the handler overflowing its stack dies, it does not
  // scribble over whatever lies beneath.
  void* memory = ::mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (memory == MAP_FAILED) throw_system_error("mmap of the crash signal stack", errno);
  if (::mprotect(memory, page, PROT_NONE) != 0)
    throw_system_error("mprotect of its guard page", errno);
  stack_t stack{};
  stack.ss_sp = static_cast<char*>(memory) + page;
  stack.ss_size = kStackBytes;
  if (::sigaltstack(&stack, nullptr) != 0) throw_system_error("sigaltstack", errno);
}

void prepare_crash_handler() {
  auto* snapshot = new ModuleSnapshot{{}, g_snapshot.load(std::memory_order_acquire)};
  ::dl_iterate_phdr(collect_module, &snapshot->modules);
  g_snapshot.store(snapshot, std::memory_order_release);

  // Warm up the unwinder now: binds its lazy symbols and lets libgcc set up
  // whatever it allocates on first use, outside any signal handler.
  PacketHeader scratch{};
  Unwinding warm_up{nullptr, &scratch, 0, false};
  _Unwind_Backtrace(record_frame, &warm_up);
  (void)::gettid();

  install_crash_signal_stack();

  struct sigaction action {};
  action.sa_sigaction = on_fatal_signal;
  // SA_NODEFER: a fault inside the handler re-enters it, which salvages the
  // report and dies (see on_fatal_signal) instead of a silent kernel kill.
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  for (const int signal : kFatalSignals) {
    if (::sigaction(signal, &action, nullptr) != 0) throw_system_error("sigaction", errno);
  }
  g_prepared.store(true, std::memory_order_release);
}

void install_crash_handler(CrashReportArea& area) {
  // A worker forked from the zygote inherits what the zygote prepared.
  if (!g_prepared.load(std::memory_order_acquire)) prepare_crash_handler();
  g_area.store(&area, std::memory_order_release);
}

}  // namespace isolated::detail
