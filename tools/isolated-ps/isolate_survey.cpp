#include "isolate_survey.hpp"

#include "lane_locator.hpp"
#include "process_state.hpp"
#include "common/src/shm/segment_reader.hpp"
#include "common/src/transport/doorbell_snapshot.hpp"
#include "common/src/transport/lane_backlog.hpp"

#include <isolated/error.hpp>

#include <unistd.h>

#include <optional>
#include <string>

namespace isolated::ps {
namespace {

using detail::SlotState;

// Adds the backlog of every lane registered in `doorbell` to `row`.
void count_lanes(const detail::DoorbellSnapshot& doorbell, LaneLocator& locator, IsolateRow& row) {
  row.lanes = doorbell.registered_slots.size();
  for (const auto& slot : doorbell.registered_slots) {
    if (slot.malformed) {
      ++row.lanes_malformed;
      continue;
    }
    switch (slot.state) {
      case SlotState::free:
      case SlotState::claimed:  // its producer registers it now: nothing sent on it yet
        continue;
      case SlotState::closed:  // never read again: not in flight any more
        ++row.lanes_closed;
        continue;
      case SlotState::ready:
      case SlotState::attached:
        break;
    }
    // The consumer maps an attached lane; so does its producer (which may be
    // the only one left if the consumer is about to release it).
    const auto lane = locator.open(slot.lane_name, {doorbell.owner_pid, slot.producer_pid});
    if (!lane) {
      ++row.lanes_unreadable;
      continue;
    }
    try {
      const detail::LaneBacklog backlog = detail::read_lane_backlog(*lane);
      row.queued_frames += backlog.frames;
      row.queued_bytes += backlog.bytes;
    } catch (const Error&) {
      ++row.lanes_malformed;
    }
  }
}

bool has_ended(const detail::DoorbellSnapshot& doorbell) {
  return doorbell.state == detail::InboxState::dead ||
         process_state(doorbell.owner_pid) != ProcessState::running;
}

}  // namespace

Survey survey_isolates(const std::vector<SegmentEntry>& segments) {
  Survey survey;
  LaneLocator locator;
  for (const SegmentEntry& segment : segments) {
    if (segment.parsed.kind != detail::SegmentKind::inbox) continue;
    std::optional<detail::SegmentReader> reader;
    try {
      reader.emplace(detail::SegmentReader::open(segment.name));
    } catch (const Error& e) {
      // Unlinked since the scan (its isolate ended) is no fault.
      if (::access(("/dev/shm" + segment.name).c_str(), F_OK) == 0) {
        survey.corrupt.push_back(CorruptSegment{segment.name, e.what()});
      }
      continue;
    }
    detail::DoorbellSnapshot doorbell;
    try {
      doorbell = detail::read_doorbell_snapshot(*reader);
    } catch (const Error& e) {
      survey.corrupt.push_back(CorruptSegment{segment.name, e.what()});
      continue;
    }
    if (doorbell.root_pid != segment.parsed.root_pid) {
      survey.corrupt.push_back(CorruptSegment{
          segment.name, "its header names root " + std::to_string(doorbell.root_pid) +
                            ", its name root " + std::to_string(segment.parsed.root_pid)});
      continue;
    }
    if (has_ended(doorbell)) {
      survey.ended.push_back(EndedInbox{segment.name, doorbell.owner_pid, doorbell.root_pid});
      continue;
    }
    IsolateRow row;
    row.inbox_name = segment.name;
    row.pid = doorbell.owner_pid;
    row.parent_pid = doorbell.parent_pid;
    row.root_pid = doorbell.root_pid;
    row.state = doorbell.state;
    row.debug_name = doorbell.debug_name;
    count_lanes(doorbell, locator, row);
    survey.live.push_back(std::move(row));
  }
  return survey;
}

}  // namespace isolated::ps
