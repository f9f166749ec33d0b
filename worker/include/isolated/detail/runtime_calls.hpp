// The few non-template functions of the isolate runtime that the public
// templates call. Everything else of the runtime stays in worker/src.
#pragma once

#include <isolated/message.hpp>
#include <isolated/send_port.hpp>

#include <cstddef>
#include <span>
#include <vector>

namespace isolated::detail {

// Sends encoded message bytes to `port`. False when the port is known gone.
// Throws isolated::Error if this process has no isolate runtime (init() was
// not called) or the port's inbox cannot be reached for another reason.
bool post_message(const SendPort& port, std::span<const std::byte> encoded);

// Sends an encoded control command to an isolate's control port.
void post_control(const SendPort& control_port, std::span<const std::byte> encoded);

// Sends `encoded` to `port`, waits until the receiver has taken it from its
// lane (or is gone), and ends this isolate as a clean exit. Never returns.
[[noreturn]] void exit_isolate(const SendPort& port, std::span<const std::byte> encoded);

// A reusable buffer for encoding on this thread: sends allocate nothing once
// it has grown.
std::vector<std::byte>& encode_buffer();

}  // namespace isolated::detail
