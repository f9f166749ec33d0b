// Everything of isolated's public API (DESIGN §10).
#pragma once

#include <isolated/capability.hpp>
#include <isolated/error.hpp>
#include <isolated/message.hpp>
#include <isolated/send_port.hpp>
