// Where the bytes of a lane can be read from.
//
// A lane's name is unlinked as soon as its consumer has mapped it (DESIGN
// §11), so only a lane that is registered but not attached yet can be opened
// by name. An attached lane is still mapped by its consumer and its producer,
// and /proc/<pid>/map_files/<range> opens such a mapping: but the kernel
// allows that only with CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE), so for an
// ordinary user an attached lane cannot be read at all.
#pragma once

#include "common/src/shm/segment_reader.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isolated::ps {

class LaneLocator {
 public:
  // Opens the lane segment `lane_name` (already checked to have the lane name
  // form) by name, else through the mapping of one of `mapped_by`. Nothing if
  // no way is open to us.
  std::optional<detail::SegmentReader> open(const std::string& lane_name,
                                            const std::vector<int>& mapped_by);

 private:
  // The lane segments process `pid` maps: path in /dev/shm -> its
  // /proc/<pid>/map_files entry. Read once per process.
  const std::map<std::string, std::string>& mapped_lanes(int pid);

  std::map<int, std::map<std::string, std::string>> mapped_lanes_by_pid_;
};

}  // namespace isolated::ps
