// The memory allocator of ewx's programs: jemalloc, on ordinary pages.
//
// Why jemalloc. A batch is cleared in large arrays built afresh each time (the condensed network's ladders,
// the auction's trees and lots, the residual network of its proof), recorded by writing a few hundred
// thousand keys into RocksDB's memtable, and fed by buffers of tens of thousands of frames. glibc's malloc
// gives each such array a fresh mmap and hands it back when freed, so every batch paid its page faults
// again (32,000 for one ewx-solve of an ewx-loadgen batch of 100k orders and 10k offers on this 2-core
// virtual machine); jemalloc keeps freed memory for the next batch. Against the same build on glibc's
// malloc it took ewxd's burst of that size from 2.13 to 1.66 s, first submission to durable contracts (an
// earlier session, medians of 4). It is also the usual cure for the fragmentation glibc's malloc
// accumulates under RocksDB in long-running servers.
//
// Why not transparent huge pages, which these programs used before (thp:always). A 2 MiB page is zeroed
// by the kernel when first touched, and on this machine's host that is slow: touching 1 GiB of fresh
// memory took 2.4 s in 2 MiB pages against 0.4 to 0.75 s in 4 KiB ones (0.05 s for 2 MiB pages the host
// had backed before), so each huge-page fault stalls the thread that takes it for some 5 ms. An exchange
// grows its memory all day (the open book, the index of client order ids, the memtable), and those
// stalls landed on the intake path. Measured 2026-12-01 with alternated runs of the same build, thp:always
// against ordinary pages: ewx-loadgen's 100k x 10k burst from first submission to durable contracts,
// medians of 5, 1.18 s against 0.89 s (intake 0.36 s against 0.13 s); ewxd's durable acks a second, 16
// connections x 2000 in flight, 0.72-0.75M against 0.88-1.19M. MALLOC_CONF=thp:always in the environment
// brings them back for a program that would rather have them.
//
// Why the programs that solve once and exit keep all they free (ewx-solve and ewx, built with
// EWX_ONE_SHOT_PROGRAM). jemalloc hands allocations of 8 MiB or more to an arena of their own that returns
// their pages to the kernel as soon as they are freed, so the parallel auction's per-arc arrays (1 GB for
// a dense n = 8,192) were faulted in afresh on every solve, even where the parser had just freed as much.
// (jemalloc's statistics for an n = 2,048 run of three solves: 131,099 pages purged, 14 of them by the
// ordinary arena.) dirty_decay_ms:-1 keeps freed pages for the next allocation. Measured 2026-12-07,
// ewx-solve --solver parallel --repeat 3, three runs of each build in turn: n = 8,192 from 1,031, 927 and
// 930 ms to 700, 686 and 724 ms (setup 268 to 466 ms to 70 to 75 ms), n = 4,096 1.21x, n = 2,048 1.24x;
// the CPU solver's times unchanged. A process that exits soon gives it all back then. `ewx watch` runs on,
// but holds little beyond its frames, so its peak is small to keep; ewxd and the load generators, which
// run all day and clear or carry large batches, keep jemalloc's default, so that such a peak is not held
// for good.
//
// How. Linking libjemalloc replaces malloc and free for the whole process, RocksDB included. jemalloc reads
// the options below when it starts, before main; MALLOC_CONF in the environment overrides them.
#include "tools/allocator.hpp"

#include <jemalloc/jemalloc.h>

#include <string>

extern "C" {
// thp:default leaves pages to the kernel's setting, which on Debian (transparent_hugepage = madvise) means
// ordinary pages, since jemalloc then asks for no huge ones.
#ifdef EWX_ONE_SHOT_PROGRAM
const char* malloc_conf = "thp:default,dirty_decay_ms:-1";
#else
const char* malloc_conf = "thp:default";
#endif
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
