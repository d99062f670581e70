// Which allocator a program runs on (tools/allocator.cpp: jemalloc on ordinary pages, and why).
#pragma once

#include <string>

namespace ewx::tools {

// The allocator and its huge-page setting as the running process has them, for a start-up log line.
struct AllocatorInfo {
  std::string name = "jemalloc";
  std::string version;  // the release, "5.3.0"
  std::string thp;      // "default"; "always" or "never" where MALLOC_CONF overrode ours
};
AllocatorInfo allocator_info();

}  // namespace ewx::tools
