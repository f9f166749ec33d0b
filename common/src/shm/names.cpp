#include "names.hpp"

#include "common/src/os/random.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <system_error>

namespace isolated::detail {
namespace {

constexpr std::string_view kPrefix = "isolated.";
constexpr std::size_t kRandomHexDigits = 16;

// A worker joins its parent's session (join_session); anyone else is a root.
int& cached_root_pid() {
  static int pid = static_cast<int>(::getpid());
  return pid;
}

std::optional<SegmentKind> kind_from_string(std::string_view text) {
  for (auto kind : {SegmentKind::inbox, SegmentKind::lane, SegmentKind::out_of_line,
                    SegmentKind::transferable, SegmentKind::boot}) {
    if (to_string(kind) == text) return kind;
  }
  return std::nullopt;
}

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(SegmentKind kind) noexcept {
  switch (kind) {
    case SegmentKind::inbox: return "inbox";
    case SegmentKind::lane: return "lane";
    case SegmentKind::out_of_line: return "oob";
    case SegmentKind::transferable: return "ttd";
    case SegmentKind::boot: return "boot";
  }
  return "unknown";
}

int session_root_pid() { return cached_root_pid(); }

void become_session_root() { cached_root_pid() = static_cast<int>(::getpid()); }

void join_session(int root_pid) { cached_root_pid() = root_pid; }

std::string make_segment_name(SegmentKind kind) {
  std::string name = "/";
  name += kPrefix;
  name += std::to_string(session_root_pid());
  name += '.';
  name += random_hex(kRandomHexDigits / 2);
  name += '.';
  name += to_string(kind);
  return name;
}

std::string shm_object_name(std::string_view name) {
  // Built by appending: GCC 12 warns (-Wrestrict, a false positive) about
  // std::string::insert at position 0 once it is inlined here.
  std::string full_name;
  full_name.reserve(name.size() + 1);
  if (!name.starts_with('/')) full_name.push_back('/');
  full_name.append(name);
  return full_name;
}

std::optional<ParsedSegmentName> parse_segment_name(std::string_view name) {
  if (name.size() >= kMaxSegmentNameBytes) return std::nullopt;
  if (name.starts_with('/')) name.remove_prefix(1);
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());

  const auto pid_end = name.find('.');
  if (pid_end == std::string_view::npos || pid_end == 0) return std::nullopt;
  int pid = 0;
  const auto [end, err] = std::from_chars(name.data(), name.data() + pid_end, pid);
  if (err != std::errc() || end != name.data() + pid_end || pid <= 0) return std::nullopt;
  name.remove_prefix(pid_end + 1);

  if (name.size() < kRandomHexDigits + 1 || name[kRandomHexDigits] != '.') return std::nullopt;
  if (!is_lower_hex(name.substr(0, kRandomHexDigits))) return std::nullopt;
  const auto kind = kind_from_string(name.substr(kRandomHexDigits + 1));
  if (!kind) return std::nullopt;
  return ParsedSegmentName{pid, *kind};
}

std::vector<std::string> list_session_segments(int root_pid) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string file = entry.path().filename().string();
    const auto parsed = parse_segment_name(file);
    if (parsed && parsed->root_pid == root_pid) names.push_back("/" + file);
  }
  return names;
}

std::size_t unlink_session_segments(int root_pid) {
  std::size_t removed = 0;
  for (const auto& name : list_session_segments(root_pid)) {
    if (::shm_unlink(name.c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace isolated::detail
