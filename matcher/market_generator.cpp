// The synthetic east-west market.
//
// Resource classes carry a reference price in fen per unit-hour (an H100 about 24 yuan, a 64-vCPU server
// about 3). Providers sit mostly in the western and central clusters, where green power is cheap and
// plentiful: asks run 70-105% of reference, 10% lower in the west, with green shares of 50-100% there and
// 15-60% in the east. Enterprises sit mostly in the three eastern hubs; bids run 80-130% of reference,
// latency limits 15-40 ms (most accept 25 or more, the plan's cross-hub range), a third ask for a minimum
// green share, and delivery windows of 1-12 hours inside the batch's day, while offers are available for
// 12-72 hours. Each enterprise places about 25 orders, each provider about 8 offers. With ten orders per offer (the
// shapes the benchmarks use) demand in units is about 1.2 times supply, so the market is tight and prices move.
#include "matcher/market_generator.hpp"

#include <array>
#include <string>

namespace ewx {
namespace {

struct ResourceClass {
  const char* name;
  Fen reference_price;
  int weight;       // share of orders and offers
  Units unit_step;  // offers come in whole servers
};

constexpr std::array<ResourceClass, 7> kClasses{{
    {"gpu.h100", 2400, 20, 8},
    {"gpu.h20", 1200, 15, 8},
    {"gpu.910b", 1500, 15, 8},
    {"gpu.a800", 1300, 10, 8},
    {"gpu.l40s", 700, 10, 4},
    {"cpu.c64", 300, 20, 1},
    {"cpu.m64", 420, 10, 1},
}};

// Account numbers: enterprises from 1, providers from 100000; about 25 orders per enterprise and 8 offers
// per provider.
constexpr ParticipantId kFirstEnterprise = 1;
constexpr ParticipantId kFirstProvider = 100'000;

bool is_western(const std::string& key) {
  return key == "horinger" || key == "guian" || key == "qingyang" || key == "zhongwei" || key == "tianfu" ||
         key == "chongqing";
}

int hub_weight(const std::string& key) {
  if (key == "yrd") return 35;
  if (key == "bth") return 30;
  if (key == "gba") return 25;
  if (key == "cc") return 10;
  return 0;
}

}  // namespace

Batch generate_market(const MarketShape& shape, const Topology& topology) {
  SeededRandom random(shape.seed);
  Batch batch;
  batch.number = shape.batch_number;
  std::array<int, kClasses.size()> class_weights{};
  for (std::size_t c = 0; c < kClasses.size(); ++c) {
    batch.resource_classes.emplace_back(kClasses[c].name);
    class_weights[c] = kClasses[c].weight;
  }
  std::vector<int> hub_weights;
  for (const Hub& hub : topology.hubs) hub_weights.push_back(hub_weight(hub.key));
  bool any_hub = false;
  for (const int w : hub_weights) any_hub = any_hub || w > 0;
  if (!any_hub) hub_weights.assign(topology.hubs.size(), 1);
  std::vector<int> cluster_weights;
  for (const Cluster& cluster : topology.clusters) cluster_weights.push_back(is_western(cluster.key) ? 14 : 4);

  for (std::uint64_t k = 0; k < shape.offers; ++k) {
    SellOffer offer;
    offer.id = 1'000'000'000 + k;
    const std::size_t c = random.pick(class_weights);
    offer.resource_class = static_cast<ResourceClassIndex>(c);
    offer.cluster = static_cast<ClusterIndex>(random.pick(cluster_weights));
    const bool west = is_western(topology.clusters[offer.cluster].key);
    offer.units = kClasses[c].unit_step * random.between(4, 40);
    const Fen reference = kClasses[c].reference_price * (west ? 90 : 100) / 100;
    offer.ask = reference * random.between(70, 105) / 100;
    offer.green_percent = static_cast<std::int32_t>(west ? random.between(50, 100) : random.between(15, 60));
    offer.window_begin = shape.first_hour + random.between(0, 4);
    offer.window_end = offer.window_begin + random.between(12, 72);
    offer.participant = kFirstProvider + k % std::max<std::uint64_t>(1, shape.offers / 8);
    batch.offers.push_back(offer);
  }
  static constexpr std::array<int, 6> kLatencyChoices{15, 20, 25, 30, 35, 40};
  static constexpr std::array<int, 6> kLatencyWeights{5, 10, 20, 25, 20, 20};
  static constexpr std::array<int, 4> kGreenChoices{0, 30, 50, 80};
  static constexpr std::array<int, 4> kGreenWeights{65, 15, 12, 8};
  for (std::uint64_t k = 0; k < shape.orders; ++k) {
    BuyOrder order;
    order.id = 1 + k;
    const std::size_t c = random.pick(class_weights);
    order.resource_class = static_cast<ResourceClassIndex>(c);
    order.hub = static_cast<HubIndex>(random.pick(hub_weights));
    order.units = random.between(1, 5 * kClasses[c].unit_step);
    order.bid = kClasses[c].reference_price * random.between(80, 130) / 100;
    order.max_latency_ms = kLatencyChoices[random.pick(kLatencyWeights)];
    order.min_green_percent = kGreenChoices[random.pick(kGreenWeights)];
    order.window_begin = shape.first_hour + random.between(4, 16);
    order.window_end = order.window_begin + random.between(1, 12);
    order.participant = kFirstEnterprise + k % std::max<std::uint64_t>(1, shape.orders / 25);
    batch.orders.push_back(order);
  }
  return batch;
}

}  // namespace ewx
