// Messages with descriptors over a Unix socket (SCM_RIGHTS): how the zygote
// hands its spawner a pre-forked child, and how a spawner hands that child
// its boot record with the descriptors it is to use (isolated/src/zygote_*).
// The sockets are SOCK_SEQPACKET: a message arrives whole or not at all.
#pragma once

#include "unique_fd.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace isolated::detail {

// The most descriptors one message carries.
inline constexpr std::size_t kMaxPassedDescriptors = 8;

// Sends `bytes` and `descriptors` as one message. False if the peer has gone
// (EPIPE, ECONNRESET); throws SystemError or ResourceExhausted otherwise.
// Never raises SIGPIPE.
bool send_message(int socket, std::span<const std::byte> bytes, std::span<const int> descriptors);

struct ReceivedMessage {
  std::size_t size = 0;  // bytes received; 0: the peer has gone (end of stream)
  std::vector<UniqueFd> descriptors;  // close-on-exec, in the order they were sent
};

// Waits for one message and receives it into `buffer`. Throws DecodeError if
// the message or its descriptors did not fit (they are closed then),
// SystemError otherwise.
ReceivedMessage receive_message(int socket, std::span<std::byte> buffer);

// The same, waiting at most `timeout` (0: takes only a message that is there).
// Nothing if none came in time.
std::optional<ReceivedMessage> receive_message_within(int socket, std::span<std::byte> buffer,
                                                      std::chrono::milliseconds timeout);

// Whether the peer of `socket` has closed its end (or died). Never waits.
bool peer_gone(int socket) noexcept;

// The bytes of a fixed-size struct sent as one message.
template <class T>
std::span<const std::byte> bytes_of(const T& value) noexcept {
  return std::as_bytes(std::span(&value, 1));
}

}  // namespace isolated::detail
