// The memory allocator of ewx's programs: jemalloc, backed by transparent huge pages.
//
// Why. A batch is cleared in large arrays built afresh each time (the condensed network's ladders, the
// auction's trees and lots, the residual network of its proof), recorded by writing a few hundred thousand
// keys into RocksDB's memtable, and fed by buffers of tens of thousands of frames. With glibc's malloc each
// of those arrays is a fresh mmap that the kernel fills one 4 KiB page at a time: solving one ewx-loadgen
// batch of 100k orders and 10k offers took 32,000 page faults and a quarter of a second of system time on
// this 2-core virtual machine, and building the condensed network cold took 120 ms against 25 ms warm.
// jemalloc with `thp:always` asks the kernel for 2 MiB pages where the system grants them on request
// (transparent_hugepage = madvise, Debian's default), and keeps freed memory for the next batch instead of
// unmapping it. Measured on that batch against the same build on glibc's malloc (this machine, alternated
// runs, medians of 5 and of 4): ewx-solve's solve 1,003 to 834 ms; ewxd from the first submission to durable
// contracts 2.13 to 1.66 s, its commit 519 to 238 ms, its solve 1,208 to 1,054 ms. The price is memory:
// ewxd's peak resident set after that burst was 247 MB against 215 MB. jemalloc is also the usual cure for
// the fragmentation glibc's malloc accumulates under RocksDB in long-running servers.
//
// How. Linking libjemalloc replaces malloc and free for the whole process, RocksDB included. jemalloc reads
// the options below when it starts, before main; MALLOC_CONF in the environment overrides them (for example
// MALLOC_CONF=thp:default to leave pages to the kernel's setting). On a system with transparent huge pages
// off, jemalloc finds them unsupported and goes on with ordinary pages.
#include "tools/allocator.hpp"

#include <jemalloc/jemalloc.h>

#include <string>

extern "C" {
// metadata_thp:auto puts jemalloc's own tables on huge pages only once they are large enough to fill them.
const char* malloc_conf = "thp:always,metadata_thp:auto";
}

namespace ewx::tools {

AllocatorInfo allocator_info() {
  AllocatorInfo info;
  const char* text = nullptr;
  std::size_t size = sizeof text;
  info.version = mallctl("version", &text, &size, nullptr, 0) == 0 ? std::string(text) : "unknown";
  info.version = info.version.substr(0, info.version.find('-'));  // "5.3.0-0-g<commit>": the release will do
  size = sizeof text;
  info.thp = mallctl("opt.thp", &text, &size, nullptr, 0) == 0 ? std::string(text) : "unknown";
  return info;
}

}  // namespace ewx::tools
