// The crash report: the fatal-signal handler of a worker (child side) and the
// renderer its parent runs after the worker died. See crash_report.hpp.
#include "crash_report.hpp"

#include "elf_file.hpp"

#include "modules.hpp"
#include "common/src/os/syscall.hpp"
#include "common/src/os/unique_fd.hpp"

#include <isolated/error.hpp>

#include <cxxabi.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

namespace isolated::detail {
namespace {

// ---------------------------------------------------------------------------
// Wire format of CrashReportArea::text (both sides are built from this file).
//
//   PacketHeader                    at 0
//   u64 frames[frame_count]         at frames_offset: return addresses, each
//                                   already moved into its call instruction
//   ModuleEntry[module_count]       at modules_offset: only the modules that
//                                   hold a frame
//   path bytes                      where each ModuleEntry says
//
// The handler publishes every count after the items it counts, so a packet
// cut short by a fault inside the handler is still consistent. The parent
// trusts none of it: all offsets and counts are checked against text_length.
// ---------------------------------------------------------------------------

constexpr std::uint32_t kPacketMagic = 0x31524349;  // "ICR1"
constexpr std::uint16_t kPacketVersion = 1;
constexpr std::uint16_t kFlagTruncated = 1;     // the handler faulted while writing
constexpr std::uint16_t kFlagPathsDropped = 2;  // no room for some module path
constexpr std::uint32_t kStateWriting = 1;
constexpr std::uint32_t kStateComplete = 2;
constexpr std::size_t kMaxFrames = 64;
constexpr int kMaxUnwindSteps = 256;  // a corrupted stack can make the unwinder cycle

struct PacketHeader {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t flags;
  std::int32_t code;        // si_code: > 0 when the kernel raised it for a fault
  std::int32_t pid;         // the crashing process
  std::int32_t sender_pid;  // si_pid, when a process sent the signal (code <= 0)
  std::uint16_t frame_count;
  std::uint16_t module_count;
  std::uint32_t frames_offset;
  std::uint32_t modules_offset;
};

struct ModuleEntry {
  std::uint64_t bias;   // dlpi_addr: address - bias is the address the ELF file uses
  std::uint64_t start;  // [start, end): the module's loaded segments
  std::uint64_t end;
  std::uint32_t path_offset;  // into text
  std::uint32_t path_length;
};

static_assert(std::is_trivially_copyable_v<PacketHeader> &&
              std::is_trivially_copyable_v<ModuleEntry>);
constexpr std::size_t kFramesOffset = (sizeof(PacketHeader) + 7) / 8 * 8;
static_assert(kFramesOffset + kMaxFrames * 8 + kMaxFrames * sizeof(ModuleEntry) < kCrashTextBytes);

// ---------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------
// Parent side: ELF symbol lookup and rendering.
// ---------------------------------------------------------------------------

constexpr std::uint64_t kMaxTableBytes = 256u << 20;  // a sane bound for one symbol or string table
constexpr std::size_t kMaxNameChars = 1024;

// The function symbols of one ELF file: its .symtab, or .dynsym if stripped.
class ElfSymbols {
 public:
  static ElfSymbols load(const std::string& path) {
    ElfSymbols symbols;
    // Only absolute paths (a relative one would resolve in our directory),
    // only regular files (a FIFO or a device named by the child must not
    // block or feed us), never a controlling terminal.
    if (path.empty() || path.front() != '/') return symbols;
    const UniqueFd fd(retry_on_eintr(
        [&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); }));
    if (!fd) return symbols;
    struct stat status {};
    if (::fstat(fd.get(), &status) == 0 && S_ISREG(status.st_mode)) {
      symbols.read_tables(fd.get(), static_cast<std::uint64_t>(status.st_size));
    }
    return symbols;
  }

  // The function containing `address` (in the file's own addresses) and how
  // far into it; nothing if no sized function symbol covers it.
  std::optional<std::pair<std::string_view, std::uint64_t>> find(std::uint64_t address) const {
    const Function* best = nullptr;
    for (const Function& function : functions_) {
      if (function.start <= address && address - function.start < function.size &&
          (best == nullptr || function.size < best->size)) {
        best = &function;
      }
    }
    if (best == nullptr) return std::nullopt;
    return std::pair{std::string_view(names_.data() + best->name), address - best->start};
  }

 private:
  struct Function {
    std::uint64_t start;
    std::uint64_t size;
    std::size_t name;  // offset of a NUL-terminated name in names_
  };

  // Module files are read in this process's own ELF flavour: the child ran
  // on this machine, so its modules have it too.
  void read_tables(int fd, std::uint64_t file_size) {
    const auto file = ElfFile::read(fd, file_size);
    if (!file) return;
    for (const ElfW(Word) type : {ElfW(Word){SHT_SYMTAB}, ElfW(Word){SHT_DYNSYM}}) {
      for (const ElfW(Shdr) & table : file->sections()) {
        if (table.sh_type == type && read_table(*file, table)) return;
      }
    }
  }

  bool read_table(const ElfFile& file, const ElfW(Shdr) & table) {
    const auto& sections = file.sections();
    if (table.sh_entsize != sizeof(ElfW(Sym)) || table.sh_size > kMaxTableBytes ||
        table.sh_link >= sections.size()) {
      return false;
    }
    const ElfW(Shdr)& strings = sections[table.sh_link];
    if (strings.sh_type != SHT_STRTAB || strings.sh_size == 0 || strings.sh_size > kMaxTableBytes) {
      return false;
    }
    std::vector<ElfW(Sym)> symbols(table.sh_size / sizeof(ElfW(Sym)));
    names_.resize(strings.sh_size);
    if (!file.read_at(table.sh_offset, symbols.size() * sizeof(ElfW(Sym)), symbols.data()) ||
        !file.read_at(strings.sh_offset, names_.size(), names_.data())) {
      return false;
    }
    names_.back() = '\0';  // every name now ends inside the table
    for (const ElfW(Sym) & symbol : symbols) {
      const auto kind = ELF64_ST_TYPE(symbol.st_info);
      if ((kind != STT_FUNC && kind != STT_GNU_IFUNC) || symbol.st_shndx == SHN_UNDEF ||
          symbol.st_size == 0 || symbol.st_name >= names_.size()) {
        continue;
      }
      functions_.push_back({symbol.st_value, symbol.st_size, symbol.st_name});
    }
    return !functions_.empty();
  }

  std::vector<Function> functions_;
  std::string names_;
};

// Text from the child or from a file it named, made safe for a terminal.
std::string printable(std::string_view text, std::size_t limit = 4096) {
  std::string out;
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte == 0x7f ? '?' : c;
  }
  if (text.size() > limit) out += "...";
  return out;
}

std::string demangled(std::string_view name) {
  if (name.size() > kMaxNameChars) return printable(name, kMaxNameChars);
  const std::string mangled(name);
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> plain(
      abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status), &std::free);
  return printable(status == 0 && plain ? std::string_view(plain.get()) : name, kMaxNameChars);
}

std::string hex(std::uint64_t value) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), digits[value & 0xf]);
    value >>= 4;
  } while (value != 0);
  return "0x" + out;
}

struct SignalName {
  int number;
  const char* name;
  const char* description;
};
constexpr SignalName kSignalNames[] = {
    {SIGSEGV, "SIGSEGV", "Segmentation fault"},
    {SIGBUS, "SIGBUS", "Bus error"},
    {SIGFPE, "SIGFPE", "Floating-point exception"},
    {SIGILL, "SIGILL", "Illegal instruction"},
    {SIGABRT, "SIGABRT", "Aborted"},
    {SIGTRAP, "SIGTRAP", "Trace/breakpoint trap"},
    {SIGSYS, "SIGSYS", "Bad system call"},
};

// The kernel's reason for a fault, for the codes worth telling apart.
const char* fault_cause(int signal, int code) {
  switch (signal) {
    case SIGSEGV:
      return code == SEGV_MAPERR   ? "address not mapped"
             : code == SEGV_ACCERR ? "invalid permissions"
                                   : nullptr;
    case SIGBUS:
      return code == BUS_ADRALN   ? "misaligned address"
             : code == BUS_ADRERR ? "nonexistent physical address"
             : code == BUS_OBJERR ? "object-specific error"
                                  : nullptr;
    case SIGFPE:
      return code == FPE_INTDIV   ? "integer divide by zero"
             : code == FPE_INTOVF ? "integer overflow"
             : code == FPE_FLTDIV ? "floating-point divide by zero"
                                  : nullptr;
    case SIGILL:
      return code == ILL_ILLOPC   ? "illegal opcode"
             : code == ILL_PRVOPC ? "privileged opcode"
                                  : nullptr;
    default:
      return nullptr;
  }
}

std::string headline(int signal, std::uint64_t fault_address, const PacketHeader* header) {
  std::string line = "signal " + std::to_string(signal);
  std::string description;
  for (const SignalName& known : kSignalNames) {
    if (known.number == signal) {
      line = known.name;
      description = known.description;
    }
  }
  if (header == nullptr) return description.empty() ? line : line + " (" + description + ")";
  if (const char* cause = fault_cause(signal, header->code))
    description += std::string(": ") + cause;
  if (!description.empty()) line += " (" + description + ")";
  if (header->code == SI_KERNEL) {
    // x86 reports a general protection fault (a non-canonical address, say)
    // this way, with no address; also an int3 trap.
    if (signal == SIGSEGV || signal == SIGBUS)
      line += ", address unknown (general protection fault)";
  } else if (header->code > 0) {
    line += " at address " + hex(fault_address);
  } else if (header->sender_pid == header->pid) {
    line += ", raised by the process itself";
  } else {
    line += ", sent by process " + std::to_string(header->sender_pid);
  }
  return line;
}

// A module of the packet, with its path checked against the packet's bounds.
struct Module {
  ModuleEntry entry;
  std::string path;
};

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

std::string render_crash_report(const CrashReportArea& shared) {
  if (shared.state.load(std::memory_order_acquire) != kStateComplete) return "";
  // One copy first: a live writer cannot change what we validated.
  const int signal = shared.signal;
  const std::uint64_t fault_address = shared.fault_address;
  const std::size_t length = std::min<std::size_t>(shared.text_length, kCrashTextBytes);
  std::vector<char> text(shared.text, shared.text + length);

  PacketHeader header{};
  if (length < sizeof header)
    return headline(signal, fault_address, nullptr) + "\n  (no backtrace)";
  std::memcpy(&header, text.data(), sizeof header);
  const std::uint64_t frames_end =
      std::uint64_t{header.frames_offset} + std::uint64_t{header.frame_count} * 8;
  const std::uint64_t modules_end = std::uint64_t{header.modules_offset} +
                                    std::uint64_t{header.module_count} * sizeof(ModuleEntry);
  if (header.magic != kPacketMagic || header.version != kPacketVersion ||
      header.frame_count > kMaxFrames || frames_end > length || modules_end > length) {
    return headline(signal, fault_address, nullptr) + "\n  (no backtrace: the report is malformed)";
  }

  std::vector<Module> modules;
  for (std::size_t i = 0; i < header.module_count; ++i) {
    Module module{};
    std::memcpy(&module.entry, text.data() + header.modules_offset + i * sizeof(ModuleEntry),
                sizeof(ModuleEntry));
    const ModuleEntry& entry = module.entry;
    if (entry.path_offset <= length && entry.path_length <= length - entry.path_offset) {
      module.path = printable(std::string_view(text.data() + entry.path_offset, entry.path_length));
    }
    modules.push_back(std::move(module));
  }
  // "<path>+<offset>" for an address inside a recorded module: the child's
  // raw addresses mean nothing here, offsets into its files do.
  auto locate = [&](std::uint64_t address) -> std::pair<const Module*, std::string> {
    for (const Module& module : modules) {
      if (module.entry.start <= address && address < module.entry.end) {
        const std::string path = module.path.empty() ? "<unnamed module>" : module.path;
        return {&module, path + '+' + hex(address - module.entry.bias)};
      }
    }
    return {nullptr, hex(address) + " in no known module"};
  };

  std::string report = headline(signal, fault_address, &header);
  if (header.code > 0 && header.code != SI_KERNEL) {
    if (const auto [module, where] = locate(fault_address); module != nullptr)
      report += " (" + where + ')';
  }
  if ((header.flags & kFlagTruncated) != 0) {
    report += "\n  (the crash handler faulted while writing: the backtrace may be incomplete)";
  }

  std::map<std::string, ElfSymbols> files;  // each module file is read once
  for (std::size_t i = 0; i < header.frame_count; ++i) {
    std::uint64_t address = 0;
    std::memcpy(&address, text.data() + header.frames_offset + i * sizeof address, sizeof address);
    report += "\n  #" + std::to_string(i) + ' ';
    const auto [module, where] = locate(address);
    if (module != nullptr) {
      auto file = files.find(module->path);
      if (file == files.end())
        file = files.emplace(module->path, ElfSymbols::load(module->path)).first;
      if (const auto function = file->second.find(address - module->entry.bias)) {
        report += demangled(function->first) + '+' + hex(function->second) + " in ";
      }
    }
    report += where;
  }
  if ((header.flags & kFlagPathsDropped) != 0)
    report += "\n  (some module paths did not fit the report)";
  return report;
}

std::string describe_own_frames(std::span<const std::uintptr_t> return_addresses) {
  std::string self_path;
  {
    char buffer[PATH_MAX];
    const ssize_t length = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (length > 0) self_path.assign(buffer, static_cast<std::size_t>(length));
  }
  std::map<std::string, ElfSymbols> files;  // each module file is read once
  std::string text;
  for (std::size_t i = 0; i < return_addresses.size(); ++i) {
    // A return address points after the call; step back into it.
    const std::uintptr_t address = return_addresses[i] - (return_addresses[i] > 0 ? 1 : 0);
    if (i > 0) text += '\n';
    text += "  #" + std::to_string(i) + ' ';
    try {
      const CodeAddress code = locate_code(reinterpret_cast<const void*>(address));
      const std::string path = code.module.empty() ? self_path : code.module;
      auto file = files.find(path);
      if (file == files.end()) file = files.emplace(path, ElfSymbols::load(path)).first;
      if (const auto function = file->second.find(code.offset)) {
        text += demangled(function->first) + '+' + hex(function->second) + " in ";
      }
      text += path + '+' + hex(code.offset);
    } catch (const Error&) {
      text += hex(address) + " in no known module";
    }
  }
  return text;
}

}  // namespace isolated::detail
