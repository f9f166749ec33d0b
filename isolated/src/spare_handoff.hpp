// Handing a spare of the zygote its boot record (DESIGN §2, "The zygote"):
// one BootRequest, with the record inline when it fits and the descriptors
// the worker is to have (zygote_protocol.hpp).
#pragma once

#include "launcher.hpp"

#include <cstddef>
#include <span>
#include <string>

namespace isolated::detail {

// How a spare gets its boot record: the encoded record itself, if it is no
// longer than kMaxInlineBootRecord, or else the name of the segment that
// holds it (as an exec'd worker gets it).
struct BootRecordHandoff {
  std::span<const std::byte> encoded;  // empty: see segment
  std::string segment;
};

// Sends the spare at the other end of `spare_socket` its boot request: the
// record, this process's current directory (the worker runs where its
// spawner is now, not where the zygote started), and the stdin, stdout,
// stderr, core-dump and process-group settings of `options` (the caller
// makes the process group too: see zygote_client.cpp). False if the spare is
// gone.
// Throws SystemError if the request cannot be sent.
bool hand_boot_record(int spare_socket, const BootRecordHandoff& boot_record,
                      const LaunchOptions& options);

}  // namespace isolated::detail
