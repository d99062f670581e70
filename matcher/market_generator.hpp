// Realistic synthetic batches of the east-west market, reproducible from a seed, for ewx-gen, the tests,
// the benchmarks and the demo.
#pragma once

#include <cstdint>

#include "matcher/market.hpp"
#include "matcher/topology.hpp"

namespace ewx {

// A small, portable pseudo-random generator (SplitMix64). The standard library's distributions are
// implementation-defined, so a seed would give different batches on different systems; this does not.
class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [low, high], unbiased (rejection sampling).
  std::int64_t between(std::int64_t low, std::int64_t high) {
    const std::uint64_t span = static_cast<std::uint64_t>(high - low) + 1;
    if (span == 0) return static_cast<std::int64_t>(next());
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    std::uint64_t draw;
    do draw = next();
    while (draw >= limit);
    return low + static_cast<std::int64_t>(draw % span);
  }
  // Index drawn with the given integer weights.
  template <typename Weights>
  std::size_t pick(const Weights& weights) {
    std::int64_t total = 0;
    for (const auto w : weights) total += w;
    std::int64_t draw = between(0, total - 1);
    std::size_t k = 0;
    while (draw >= weights[k]) draw -= weights[k++];
    return k;
  }

 private:
  std::uint64_t state_;
};

struct MarketShape {
  std::uint64_t orders = 1000;
  std::uint64_t offers = 100;
  std::uint64_t seed = 1;
  std::uint64_t batch_number = 1;
  Hour first_hour = 493'080;  // 2026-04-01T00:00Z
};

// Eastern enterprises bid for GPU and CPU capacity offered by providers in the western and central
// clusters (docs/formats.md describes the distributions). Needs the default topology's hub and cluster
// keys; other topologies get uniform hub and cluster choices.
Batch generate_market(const MarketShape& shape, const Topology& topology);

}  // namespace ewx
