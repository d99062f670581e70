// When each request of ewx-loadgen's fixed-rate load falls due.
//
// A latency measurement is honest only under an open-loop load: the requests' times are fixed in advance,
// whatever the server does. A client that waits for answers before it sends sends less while the server
// stalls, and the stall drops out of its figures (coordinated omission). So ewx-loadgen --rate R charges
// every request from the time it was due, not from when it got out, and this is the schedule it keeps.
//
// Request k of a load of R a second begun at `start` is due at start + k/R, in whole nanoseconds (rounded
// down); the load is every request due before `stop`. All in integers, so that "due by now" is exact: the
// load generator sends request k as soon as it is due, not one interval after (it did, until 2026-12-03,
// charging every request 1/R more than the server took: 10 us at 100,000 a second, 1 ms at 1,000).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace ewx {

class RequestSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  // `per_second` at least 1 and at most 1e9 (so that no two requests share a nanosecond).
  RequestSchedule(Clock::time_point start, std::uint64_t per_second, Clock::time_point stop)
      : start_(start),
        per_second_(per_second),
        total_(stop > start ? due_within(stop - start - Clock::duration(1)) : 0) {}

  Clock::time_point due(std::uint64_t k) const {
    return start_ + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::nanoseconds(static_cast<std::uint64_t>(wide(k) * kNanosPerSecond / per_second_)));
  }

  // How many requests are due at or before `now`, none past the load's end: those to have been sent by then.
  std::uint64_t due_by(Clock::time_point now) const {
    return now < start_ ? 0 : std::min(due_within(now - start_), total_);
  }

  // Every request of the load: those due before `stop`.
  std::uint64_t total() const { return total_; }

 private:
  using Wide = unsigned __int128;  // k * 1e9 and t * R overflow 64 bits past a few hours at 1M a second
  static constexpr Wide kNanosPerSecond = 1'000'000'000u;
  static Wide wide(std::uint64_t x) { return x; }

  // How many requests are due within `elapsed` of the start, the end of the load aside. due(k) is at most
  // t nanoseconds in exactly when k * 1e9 / R rounded down is at most t, that is when k < (t + 1) * R / 1e9:
  // the count is that bound rounded up.
  std::uint64_t due_within(Clock::duration elapsed) const {
    const auto t = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
    return static_cast<std::uint64_t>(((wide(t) + 1) * per_second_ + kNanosPerSecond - 1) / kNanosPerSecond);
  }

  Clock::time_point start_;
  std::uint64_t per_second_;
  std::uint64_t total_;
};

}  // namespace ewx
