// The limits every accepted order and offer respects, wherever it comes from: a batch file, the gateway,
// a replayed journal. One definition, so that what a batch file accepts and what the exchange accepts over
// the wire can never drift apart.
#pragma once

#include <optional>
#include <string>

#include "matcher/market.hpp"

namespace ewx {

inline constexpr std::int32_t kMaxLatencyMs = 100'000;
inline constexpr Hour kMaxHour = Hour{1} << 40;  // about 125 million years after 1970
inline constexpr std::size_t kMaxResourceClassLength = 64;

// The first field outside its limits, said as a person would fix it ("units 0 is outside 1..1000000000",
// "empty window [12, 12)"); nothing when every field fits. Fields are checked in their file order.
std::optional<std::string> order_problem(const BuyOrder& order);
std::optional<std::string> offer_problem(const SellOffer& offer);

// Resource class names: 1 to kMaxResourceClassLength printable characters, no spaces (they are words in
// batch files and keys in indexes).
std::optional<std::string> resource_class_problem(std::string_view name);

}  // namespace ewx
