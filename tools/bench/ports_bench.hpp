// isolated-bench ports: what a user sees through the public API between two
// isolates (SendPort::send, ReceivePort::receive, messages(), listen), each
// figure beside its peers measured in the same run.
#pragma once

namespace isolated::bench {

int ports(bool quick);

}  // namespace isolated::bench
