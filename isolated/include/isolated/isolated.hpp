// Everything of isolated's public API (DESIGN §10).
#pragma once

#include <isolated/capability.hpp>
#include <isolated/compute.hpp>
#include <isolated/error.hpp>
#include <isolated/init.hpp>
#include <isolated/isolate.hpp>
#include <isolated/isolate_runner.hpp>
#include <isolated/load_balancer.hpp>
#include <isolated/message.hpp>
#include <isolated/name_server.hpp>
#include <isolated/receive_port.hpp>
#include <isolated/send.hpp>
#include <isolated/send_port.hpp>
#include <isolated/spawn.hpp>
#include <isolated/transferable.hpp>
