// Finding this user's isolated segments in /dev/shm.
#pragma once

#include "common/src/shm/names.hpp"

#include <string>
#include <vector>

namespace isolated::ps {

struct SegmentEntry {
  std::string name;  // with the leading '/', as shm_open takes it
  detail::ParsedSegmentName parsed;
};

// Every regular file in /dev/shm that has the name form of shm/names.hpp and
// belongs to this user, sorted by name. Throws isolated::Error if /dev/shm
// cannot be read.
std::vector<SegmentEntry> scan_own_segments();

}  // namespace isolated::ps
