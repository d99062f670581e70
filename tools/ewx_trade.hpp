// The trading commands of `ewx` (bid, offer, cancel, orders, contracts, watch): each connects with the
// blocking client, sends one request and prints the answer as a table, or as one JSON object per line with
// --json.
#pragma once

#include <optional>
#include <string>

#include "gateway/client.hpp"

namespace ewx::tools {

// Where and as whom to connect: --server, --participant and the secret (from --secret-file, the EWX_SECRET
// environment variable, or the operator's --participants file).
struct Connection {
  std::string server = "127.0.0.1:7400";
  std::string participant;
  std::string secret_file;
  std::string participants_file;
  bool tls = false;
  std::string ca_file;
  bool json = false;
};

// Exit status of the trading commands: 0 done, 1 bad input, 2 usage, 3 rejected by the exchange,
// 5 cannot connect or log in.
enum TradeExit { kTradeDone = 0, kTradeBadInput = 1, kTradeRejected = 3, kTradeNoConnection = 5 };

// "2026-11-23T08" or "2026-11-23T08:00" (UTC, whole hours) or a plain number of hours since the epoch.
std::optional<Hour> parse_hour(const std::string& text);

int run_bid(const Connection& c, gateway::OrderRequest order);
int run_offer(const Connection& c, gateway::OfferRequest offer);
int run_cancel(const Connection& c, std::uint64_t id);
int run_orders(const Connection& c);
// Own contracts for traders; auditors choose a filter ("buyer", "seller", "hub", "cluster", "batch").
int run_contracts(const Connection& c, const std::string& filter, std::uint64_t key, std::uint64_t start,
                  std::uint32_t limit);
// Streams notices until `count` have arrived (0: no limit) or `seconds` pass (0: no limit).
int run_watch(const Connection& c, bool batches, bool contracts, std::uint64_t count, int seconds);

}  // namespace ewx::tools
