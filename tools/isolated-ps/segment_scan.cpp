#include "segment_scan.hpp"

#include <isolated/error.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace isolated::ps {

std::vector<SegmentEntry> scan_own_segments() {
  DIR* directory = ::opendir("/dev/shm");
  if (directory == nullptr) {
    throw Error(std::string("cannot read /dev/shm: ") + std::strerror(errno));
  }
  std::vector<SegmentEntry> entries;
  const uid_t me = ::geteuid();
  while (const dirent* entry = ::readdir(directory)) {
    const auto parsed = detail::parse_segment_name(entry->d_name);
    if (!parsed) continue;
    // Without following links: a segment is a plain file, and only ours count
    // (segments are created 0600, so another user's could not be read anyway).
    struct stat st {};
    if (::fstatat(::dirfd(directory), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) || st.st_uid != me) continue;
    entries.push_back(SegmentEntry{std::string("/") + entry->d_name, *parsed});
  }
  ::closedir(directory);
  std::sort(entries.begin(), entries.end(),
            [](const SegmentEntry& a, const SegmentEntry& b) { return a.name < b.name; });
  return entries;
}

}  // namespace isolated::ps
