// name_server: ports findable by name, per user (DESIGN §9), so that a worker
// binary started by hand (or by systemd) can find a host's port and join it.
//
// A name belongs to the process that registered it and is freed when that
// process ends: a lookup never returns the port of a dead owner, and the name
// can be registered again. Names are 1 to 200 characters of [A-Za-z0-9._-],
// not starting with '.'.
#pragma once

#include <isolated/send_port.hpp>

#include <optional>
#include <string_view>

namespace isolated::name_server {

// Registers `port` under `name`. False when the name is taken by a live
// owner. Throws isolated::UsageError for a malformed name or an invalid
// port, isolated::Error if the registry cannot be used (TimeoutError if
// another process keeps it locked for seconds; lookup and remove too).
bool register_port(const SendPort& port, std::string_view name);

// The port registered under `name`, if its owner lives.
std::optional<SendPort> lookup(std::string_view name);

// Frees `name`, whoever registered it. False when it was not registered.
bool remove(std::string_view name);

}  // namespace isolated::name_server
