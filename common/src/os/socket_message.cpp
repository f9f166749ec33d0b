#include "socket_message.hpp"

#include "syscall.hpp"

#include <isolated/error.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace isolated::detail {
namespace {

// Room for kMaxPassedDescriptors in one SCM_RIGHTS header.
union ControlBuffer {
  cmsghdr header;
  char bytes[CMSG_SPACE(sizeof(int) * kMaxPassedDescriptors)];
};

}  // namespace

bool send_message(int socket, std::span<const std::byte> bytes, std::span<const int> descriptors) {
  if (descriptors.size() > kMaxPassedDescriptors) {
    throw UsageError("send_message: at most " + std::to_string(kMaxPassedDescriptors) +
                     " descriptors fit in one message");
  }
  iovec data{const_cast<std::byte*>(bytes.data()), bytes.size()};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  ControlBuffer control{};
  if (!descriptors.empty()) {
    message.msg_control = control.bytes;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * descriptors.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * descriptors.size());
    std::memcpy(CMSG_DATA(header), descriptors.data(), sizeof(int) * descriptors.size());
  }
  if (retry_on_eintr([&] { return ::sendmsg(socket, &message, MSG_NOSIGNAL); }) >= 0) return true;
  if (errno == EPIPE || errno == ECONNRESET) return false;
  throw_system_error("sendmsg", errno);
}

ReceivedMessage receive_message(int socket, std::span<std::byte> buffer) {
  iovec data{buffer.data(), buffer.size()};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  ControlBuffer control{};
  message.msg_control = control.bytes;
  message.msg_controllen = sizeof control.bytes;
  const auto got = retry_on_eintr([&] { return ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC); });
  if (got < 0) {
    if (errno == ECONNRESET) return {};
    throw_system_error("recvmsg", errno);
  }
  ReceivedMessage received;
  received.size = static_cast<std::size_t>(got);
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      received.descriptors.emplace_back(fd);
    }
  }
  if ((message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    throw DecodeError("a message on the socket did not fit its buffer (" +
                      std::to_string(buffer.size()) + " bytes, " +
                      std::to_string(kMaxPassedDescriptors) + " descriptors)");
  }
  return received;
}

std::optional<ReceivedMessage> receive_message_within(int socket, std::span<std::byte> buffer,
                                                      std::chrono::milliseconds timeout) {
  pollfd ready{socket, POLLIN, 0};
  const int polled =
      retry_on_eintr([&] { return ::poll(&ready, 1, static_cast<int>(timeout.count())); });
  if (polled < 0) throw_system_error("poll", errno);
  if (polled == 0) return std::nullopt;
  return receive_message(socket, buffer);
}

bool peer_gone(int socket) noexcept {
  pollfd state{socket, 0, 0};
  return ::poll(&state, 1, 0) == 1 && (state.revents & (POLLHUP | POLLERR)) != 0;
}

}  // namespace isolated::detail
