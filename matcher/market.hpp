// The market's own words: buy orders from eastern enterprises, sell offers from western and central
// providers, batches of both, and the contracts a cleared batch produces.
//
// Money is integer fen (0.01 yuan) per unit-hour, quantities are integer units of a resource class (one
// GPU, one 64-vCPU server, ...), time is whole hours since the Unix epoch (UTC). Nothing here is floating
// point: the clearing is exact, and so must be everything it is computed from.
//
// An order is what the participant said; what happened to it (fills, contracts) is kept apart, in the
// clearing result, as in Liquibook's separation of order and tracker.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ewx {

using Fen = std::int64_t;    // money: fen per unit-hour for prices
using Units = std::int64_t;  // quantity of a resource class
using Hour = std::int64_t;   // hours since 1970-01-01T00:00Z
using OrderId = std::uint64_t;
using OfferId = std::uint64_t;
using ParticipantId = std::uint64_t;       // an enterprise or provider account; 0 when not known
using HubIndex = std::uint16_t;            // into Topology::hubs
using ClusterIndex = std::uint16_t;        // into Topology::clusters
using ResourceClassIndex = std::uint32_t;  // into Batch::resource_classes

// Bounds every accepted order and offer respects. 10^12 fen (10 billion yuan) per unit-hour and 10^9 units
// are far beyond any real trade, and keep every objective and dual price of a batch of up to a million
// participants exactly representable (see kCostPathBound).
inline constexpr Fen kMaxPrice = 1'000'000'000'000;
inline constexpr Units kMaxUnits = 1'000'000'000;

struct BuyOrder {
  OrderId id = 0;
  HubIndex hub = 0;  // where the enterprise's data and users are
  ResourceClassIndex resource_class = 0;
  Units units = 0;
  Fen bid = 0;                         // limit price per unit-hour, transfer charge included
  std::int32_t max_latency_ms = 0;     // to the cluster that serves it
  std::int32_t min_green_percent = 0;  // share of green energy the provider must have, 0..100
  Hour window_begin = 0;               // delivery window [begin, end)
  Hour window_end = 0;
  ParticipantId participant = 0;  // the enterprise that placed it
};

struct SellOffer {
  OfferId id = 0;
  ClusterIndex cluster = 0;
  ResourceClassIndex resource_class = 0;
  Units units = 0;
  Fen ask = 0;                     // reserve price per unit-hour
  std::int32_t green_percent = 0;  // 0..100
  Hour window_begin = 0;           // availability window [begin, end)
  Hour window_end = 0;
  ParticipantId participant = 0;  // the provider that placed it
};

struct Batch {
  std::uint64_t number = 0;
  std::vector<std::string> resource_classes;  // names, e.g. "gpu.h100"; orders and offers index into it
  std::vector<BuyOrder> orders;
  std::vector<SellOffer> offers;
};

// One settled trade: `units` of an offer delivered to an order. The buyer pays price + transfer_charge per
// unit-hour; the provider receives price; the transfer charge pays for the east-west network.
struct Contract {
  OrderId order = 0;
  OfferId offer = 0;
  Units units = 0;
  Fen price = 0;
  Fen transfer_charge = 0;
};

}  // namespace ewx
