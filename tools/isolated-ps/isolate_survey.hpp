// What isolated-ps learns from the inbox doorbells in /dev/shm: the live
// isolates with their lanes, the inboxes left by isolates that ended, and the
// segments that could not be read as doorbells.
#pragma once

#include "segment_scan.hpp"
#include "common/src/transport/doorbell.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace isolated::ps {

struct IsolateRow {
  std::string inbox_name;
  int pid = 0;
  int parent_pid = 0;  // 0 for a root isolate
  int root_pid = 0;
  detail::InboxState state = detail::InboxState::alive;
  std::string debug_name;  // raw bytes from shared memory: sanitize before printing

  std::size_t lanes = 0;             // registered lane slots (not free)
  std::size_t lanes_unreadable = 0;  // attached, so unlinked; no way to their bytes
  std::size_t lanes_malformed = 0;   // a slot or lane that does not hold up
  std::size_t lanes_closed = 0;      // the consumer gave up on them (bad frames)
  std::uint64_t queued_frames = 0;   // over the lanes that could be read
  std::uint64_t queued_bytes = 0;

  // Some registered lane's backlog is not in queued_frames / queued_bytes.
  bool backlog_incomplete() const noexcept { return lanes_unreadable + lanes_malformed > 0; }
};

struct EndedInbox {
  std::string inbox_name;
  int pid = 0;
  int root_pid = 0;
};

struct CorruptSegment {
  std::string name;
  std::string reason;
};

struct Survey {
  std::vector<IsolateRow> live;
  std::vector<EndedInbox> ended;  // the owner is gone (or a zombie), or marked its inbox dead
  std::vector<CorruptSegment> corrupt;
};

// Reads every inbox doorbell among `segments` (nothing is written, nothing
// mapped) and, for live isolates, the lanes registered in them.
Survey survey_isolates(const std::vector<SegmentEntry>& segments);

}  // namespace isolated::ps
