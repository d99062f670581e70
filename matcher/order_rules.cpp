// The order and offer limits (see order_rules.hpp). The limits are those that keep every clearing exact in
// 64-bit potentials and 128-bit totals (market.hpp) and every time in range of the hour arithmetic.
#include "matcher/order_rules.hpp"

#include "matcher/line_scanner.hpp"

namespace ewx {
namespace {

std::optional<std::string> outside(const char* what, std::int64_t value, std::int64_t low, std::int64_t high) {
  if (value >= low && value <= high) return std::nullopt;
  return std::string(what) + " " + std::to_string(value) + " is outside " + std::to_string(low) + ".." +
         std::to_string(high);
}

std::optional<std::string> window_problem(Hour begin, Hour end) {
  if (auto p = outside("window begin hour", begin, 0, kMaxHour)) return p;
  if (auto p = outside("window end hour", end, 0, kMaxHour)) return p;
  if (end <= begin) return "empty window [" + std::to_string(begin) + ", " + std::to_string(end) + ")";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> order_problem(const BuyOrder& order) {
  if (auto p = outside("units", order.units, 1, kMaxUnits)) return p;
  if (auto p = outside("bid in fen", order.bid, 0, kMaxPrice)) return p;
  if (auto p = outside("maximum latency in ms", order.max_latency_ms, 0, kMaxLatencyMs)) return p;
  if (auto p = outside("minimum green share in %", order.min_green_percent, 0, 100)) return p;
  return window_problem(order.window_begin, order.window_end);
}

std::optional<std::string> offer_problem(const SellOffer& offer) {
  if (auto p = outside("units", offer.units, 1, kMaxUnits)) return p;
  if (auto p = outside("ask in fen", offer.ask, 0, kMaxPrice)) return p;
  if (auto p = outside("green share in %", offer.green_percent, 0, 100)) return p;
  return window_problem(offer.window_begin, offer.window_end);
}

std::optional<std::string> resource_class_problem(std::string_view name) {
  if (name.empty()) return "missing resource class";
  if (name.size() > kMaxResourceClassLength) {
    return "resource class longer than " + std::to_string(kMaxResourceClassLength) + " characters";
  }
  for (const char c : name) {
    if (c <= ' ' || c > '~')
      return "resource class " + quoted(name) + " has a space or a non-printable character";
  }
  return std::nullopt;
}

}  // namespace ewx
