// The crash report as text (crash_report.hpp): the parent's rendering of the
// packet a dead child's handler wrote (crash_packet.hpp), and the same naming
// of frames for this process's own stack traces.
#include "crash_report.hpp"

#include "crash_packet.hpp"
#include "elf_file.hpp"
#include "modules.hpp"
#include "common/src/os/demangle.hpp"
#include "common/src/os/signal_name.hpp"

#include <isolated/error.hpp>

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

namespace isolated::detail {
namespace {

using namespace crash_packet;

constexpr std::size_t kMaxNameChars = 1024;

// The symbol tables read so far, kept for the life of the process: a test
// run renders one crash report after another, from the same few modules. A
// file that changed since (a rebuilt binary) is read again.
class SymbolCache {
 public:
  static SymbolCache& get() {
    static auto* cache = new SymbolCache();  // never destroyed: a crash may be rendered at exit
    return *cache;
  }

  std::shared_ptr<const ElfSymbols> symbols_of(const std::string& path) {
    struct stat status {};
    if (path.empty() || path.front() != '/' || ::stat(path.c_str(), &status) != 0) {
      return std::make_shared<const ElfSymbols>(ElfSymbols::load(path));
    }
    const Identity identity{status.st_dev, status.st_ino, status.st_size,
                            status.st_mtim.tv_sec, status.st_mtim.tv_nsec};
    {
      std::lock_guard lock(mutex_);
      const auto found = entries_.find(path);
      if (found != entries_.end() && found->second.identity == identity) return found->second.symbols;
    }
    auto symbols = std::make_shared<const ElfSymbols>(ElfSymbols::load(path));
    std::lock_guard lock(mutex_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[path] = Entry{identity, symbols};
    return symbols;
  }

 private:
  static constexpr std::size_t kMaxEntries = 64;
  struct Identity {
    dev_t device;
    ino_t inode;
    off_t size;
    time_t seconds;
    long nanoseconds;
    bool operator==(const Identity&) const = default;
  };
  struct Entry {
    Identity identity;
    std::shared_ptr<const ElfSymbols> symbols;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
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
  return printable(demangle(name), kMaxNameChars);
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
  std::string line = signal_abbreviation(signal);
  const char* described = ::sigdescr_np(signal);
  std::string description = described != nullptr ? described : "";
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

  for (std::size_t i = 0; i < header.frame_count; ++i) {
    std::uint64_t address = 0;
    std::memcpy(&address, text.data() + header.frames_offset + i * sizeof address, sizeof address);
    report += "\n  #" + std::to_string(i) + ' ';
    const auto [module, where] = locate(address);
    if (module != nullptr) {
      const auto symbols = SymbolCache::get().symbols_of(module->path);
      if (const auto function = symbols->find(address - module->entry.bias)) {
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
  std::string text;
  for (std::size_t i = 0; i < return_addresses.size(); ++i) {
    // A return address points after the call; step back into it.
    const std::uintptr_t address = return_addresses[i] - (return_addresses[i] > 0 ? 1 : 0);
    if (i > 0) text += '\n';
    text += "  #" + std::to_string(i) + ' ';
    try {
      const CodeAddress code = locate_code(reinterpret_cast<const void*>(address));
      const std::string path = code.module.empty() ? self_path : code.module;
      const auto symbols = SymbolCache::get().symbols_of(path);
      if (const auto function = symbols->find(code.offset)) {
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
