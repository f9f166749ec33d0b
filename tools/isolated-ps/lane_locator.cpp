#include "lane_locator.hpp"

#include <isolated/error.hpp>

#include <charconv>
#include <cstdint>
#include <fstream>
#include <sstream>

namespace isolated::ps {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

// "7f01a2b3c000-7f01a2b7c000" as map_files names it: both ends in hex without
// leading zeros (maps pads them to 8 digits). Nothing if the range is malformed.
std::optional<std::string> map_files_entry(std::string_view range) {
  const auto dash = range.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  const auto first = std::from_chars(range.data(), range.data() + dash, start, 16);
  const auto second =
      std::from_chars(range.data() + dash + 1, range.data() + range.size(), end, 16);
  if (first.ec != std::errc() || second.ec != std::errc() ||
      second.ptr != range.data() + range.size()) {
    return std::nullopt;
  }
  std::ostringstream entry;
  entry << std::hex << start << '-' << end;
  return entry.str();
}

}  // namespace

const std::map<std::string, std::string>& LaneLocator::mapped_lanes(int pid) {
  const auto known = mapped_lanes_by_pid_.find(pid);
  if (known != mapped_lanes_by_pid_.end()) return known->second;

  std::map<std::string, std::string>& lanes = mapped_lanes_by_pid_[pid];
  // Lines are "start-end perms offset dev inode    path"; the kernel writes
  // them, so only the paths (our own lane names) need care.
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  for (std::string line; std::getline(maps, line);) {
    const auto path_start = line.find("/dev/shm/isolated.");
    if (path_start == std::string::npos) continue;
    std::string_view path = std::string_view(line).substr(path_start);
    if (path.ends_with(kDeletedSuffix)) path.remove_suffix(kDeletedSuffix.size());
    if (!path.ends_with(".lane")) continue;
    const auto entry = map_files_entry(std::string_view(line).substr(0, line.find(' ')));
    if (entry) lanes.emplace(path, "/proc/" + std::to_string(pid) + "/map_files/" + *entry);
  }
  return lanes;
}

std::optional<detail::SegmentReader> LaneLocator::open(const std::string& lane_name,
                                                       const std::vector<int>& mapped_by) {
  try {
    return detail::SegmentReader::open(lane_name);
  } catch (const Error&) {
    // Unlinked: its consumer attached it. Try the mappings.
  }
  for (const int pid : mapped_by) {
    const auto& lanes = mapped_lanes(pid);
    const auto found = lanes.find("/dev/shm" + lane_name);
    if (found == lanes.end()) continue;
    try {
      return detail::SegmentReader::open_path(found->second);
    } catch (const Error&) {
      // EPERM without CAP_SYS_ADMIN, or the mapping went away meanwhile.
    }
  }
  return std::nullopt;
}

}  // namespace isolated::ps
