// The MessageKind of a decoded msgpack object (defined in message_text.cpp).
#pragma once

#include <isolated/message.hpp>

#include <msgpack.hpp>

namespace isolated::detail {

MessageKind kind_of(const msgpack::object& object) noexcept;

}  // namespace isolated::detail
