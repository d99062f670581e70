// What ewxd says about itself to a monitoring system: Prometheus text exposition over HTTP (Boost.Beast), on
// a port of its own so that scraping never competes with trading connections for the gateway's limits.
//
// The metrics are not kept here. Each scrape asks the daemon for the current values (a render function run
// on the io thread, where the counters live), so there is no second copy to keep in step; this file only
// knows the text format (https://prometheus.io/docs/instrumenting/exposition_formats/) and how to serve it.
// Histograms are the one thing the daemon accumulates with a type from here, since their buckets are part of
// the format. Times are counted in whole microseconds and shown in seconds, as Prometheus expects.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gateway/asio.hpp"

namespace ewx {

// A latency histogram with fixed buckets from 50 us to 10 s, 1-2.5-5 in each decade: an acknowledgment's
// target is 1 ms and a journal sync takes a few hundred microseconds, so the buckets around them are what an
// operator reads (how many answers took between 0.5 and 1 ms, and how many syncs over 250 us).
class LatencyHistogram {
 public:
  // clang-format off
  static constexpr std::array<std::int64_t, 17> kBoundsUs = {
      50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000,
      100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};
  // clang-format on
  void observe(std::chrono::microseconds value);
  std::uint64_t count() const { return count_; }
  std::int64_t sum_us() const { return sum_us_; }
  std::uint64_t at_most(std::size_t bucket) const { return cumulative_[bucket]; }

 private:
  std::array<std::uint64_t, kBoundsUs.size()> cumulative_{};
  std::uint64_t count_ = 0;
  std::int64_t sum_us_ = 0;
};

// Builds one exposition: each metric with its HELP and TYPE lines.
class PrometheusText {
 public:
  void counter(std::string_view name, std::string_view help, std::uint64_t value);
  void gauge(std::string_view name, std::string_view help, std::int64_t value);
  void histogram(std::string_view name, std::string_view help, const LatencyHistogram& histogram);
  const std::string& text() const { return text_; }

 private:
  void header(std::string_view name, std::string_view help, std::string_view type);
  std::string text_;
};

// Serves GET /metrics (anything else: 404) on `address:port` (port 0: any free one), HTTP/1.1 with
// keep-alive, each request answered with what `render` returns at that moment.
class MetricsEndpoint {
 public:
  MetricsEndpoint(boost::asio::io_context& io, std::string address, std::uint16_t port,
                  std::function<std::string()> render);
  ~MetricsEndpoint();
  // Binds and starts serving; throws std::runtime_error naming the address when it cannot bind.
  void start();
  std::uint16_t port() const;
  void stop();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace ewx
