// The trading commands (what each does is in ewx_trade.hpp). Each opens one session: the cost of a login
// per command is nothing next to a person typing, and it keeps every command independent.
#include "tools/ewx_trade.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>

#include "ledger/hex.hpp"
#include "tools/read_file.hpp"

namespace ewx::tools {
namespace {

struct ConnectError {
  std::string message;
};

std::vector<std::uint8_t> secret_of(const Connection& c) {
  std::string hex;
  if (!c.secret_file.empty()) {
    hex = read_whole_file(c.secret_file);
  } else if (const char* env = std::getenv("EWX_SECRET")) {
    hex = env;
  } else if (!c.participants_file.empty()) {
    const auto participants = gateway::Participants::parse(read_whole_file(c.participants_file), c.participants_file);
    const gateway::Participant* p = participants.find(c.participant);
    if (!p) throw ConnectError{"participant '" + c.participant + "' is not in " + c.participants_file};
    return p->secret;
  } else {
    throw ConnectError{"no secret: give --secret-file, set EWX_SECRET, or give --participants"};
  }
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.pop_back();
  const auto secret = from_hex(hex);
  if (!secret || secret->size() < 32) throw ConnectError{"the secret must be at least 64 hex digits"};
  return *secret;
}

std::unique_ptr<gateway::Client> connect(const Connection& c) {
  if (c.participant.empty()) throw ConnectError{"--participant is required (or set EWX_PARTICIPANT)"};
  gateway::Endpoint endpoint;
  const auto server = gateway::parse_host_port(c.server);
  if (!server) throw ConnectError{"--server '" + c.server + "': expected host:port, the port from 0 to 65535"};
  endpoint.host = server->host;
  endpoint.port = server->port;
  endpoint.tls = c.tls;
  endpoint.ca_file = c.ca_file;
  return std::make_unique<gateway::Client>(endpoint, gateway::Credentials{c.participant, secret_of(c)});
}

// Runs a command body with a connected client: failing to connect or log in is exit status 5, a query the
// exchange refuses is 3.
template <typename Body>
int with_client(const Connection& c, Body body) {
  std::unique_ptr<gateway::Client> client;
  try {
    client = connect(c);
  } catch (const ConnectError& e) {
    fmt::print(stderr, "ewx: {}\n", e.message);
    return kTradeNoConnection;
  } catch (const gateway::ClientError& e) {
    fmt::print(stderr, "ewx: {}\n", e.what());
    return kTradeNoConnection;
  } catch (const std::exception& e) {
    fmt::print(stderr, "ewx: {}\n", e.what());
    return kTradeBadInput;
  }
  try {
    return body(*client);
  } catch (const gateway::ClientError& e) {
    fmt::print(stderr, "ewx: {}\n", e.what());
    return kTradeRejected;
  } catch (const std::exception& e) {
    fmt::print(stderr, "ewx: {}\n", e.what());
    return kTradeBadInput;
  }
}

std::uint64_t fresh_client_order_id() {
  std::random_device device;
  std::uint64_t id = 0;
  while (id == 0) id = (static_cast<std::uint64_t>(device()) << 32 | device()) >> 1;
  return id;
}

int report(const Connection& c, const char* what, std::uint64_t client_order_id, const gateway::Answer& a) {
  if (c.json) {
    if (a.accepted)
      fmt::print("{{\"accepted\": true, \"{}\": {}, \"client_order_id\": {}, \"duplicate\": {}}}\n", what, a.id,
                 client_order_id, a.duplicate);
    else
      fmt::print("{{\"accepted\": false, \"code\": \"{}\", \"reason\": \"{}\", \"client_order_id\": {}}}\n",
                 wire::EnumNameRejectCode(a.code), a.reason, client_order_id);
  } else if (a.accepted) {
    fmt::print("accepted: {} {}{} (client order id {})\n", what, a.id, a.duplicate ? ", a resend of it" : "",
               client_order_id);
  } else {
    fmt::print(stderr, "rejected ({}): {}\n", wire::EnumNameRejectCode(a.code), a.reason);
  }
  return a.accepted ? kTradeDone : kTradeRejected;
}

std::string hour_text(Hour h) {
  const std::time_t t = static_cast<std::time_t>(h) * 3600;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H", &tm);
  return text;
}

void print_contract(const Connection& c, const ledger::ContractRecord& k) {
  if (c.json) {
    fmt::print(
        "{{\"id\": {}, \"batch\": {}, \"order\": {}, \"offer\": {}, \"buyer\": {}, \"seller\": {}, \"units\": {}, "
        "\"price\": {}, \"transfer_charge\": {}, \"hub\": {}, \"cluster\": {}, \"class\": \"{}\", "
        "\"window_begin\": {}, \"window_end\": {}}}\n",
        k.id, k.batch, k.order, k.offer, k.buyer, k.seller, k.units, k.price, k.transfer_charge, k.hub, k.cluster,
        k.resource_class, k.window_begin, k.window_end);
  } else {
    fmt::print("{:>8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10} {:>8} {:<10} {}..{}\n", k.id, k.batch, k.order,
               k.offer, k.buyer, k.seller, k.units, k.price, k.transfer_charge, k.resource_class,
               hour_text(k.window_begin), hour_text(k.window_end));
  }
}

void contract_header(const Connection& c) {
  if (!c.json)
    fmt::print("{:>8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10} {:>8} {:<10} {}\n", "contract", "batch", "order",
               "offer", "buyer", "seller", "units", "price", "transfer", "class", "window (UTC)");
}

}  // namespace

std::optional<Hour> parse_hour(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) return std::stoll(text);
  std::tm tm{};
  int minutes = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &minutes) < 4)
    return std::nullopt;
  if (minutes != 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<Hour>(timegm(&tm) / 3600);
}

int run_bid(const Connection& c, gateway::OrderRequest order) {
  if (order.client_order_id == 0) order.client_order_id = fresh_client_order_id();
  return with_client(
      c, [&](gateway::Client& client) { return report(c, "order", order.client_order_id, client.submit(order)); });
}

int run_offer(const Connection& c, gateway::OfferRequest offer) {
  if (offer.client_order_id == 0) offer.client_order_id = fresh_client_order_id();
  return with_client(
      c, [&](gateway::Client& client) { return report(c, "offer", offer.client_order_id, client.submit(offer)); });
}

int run_cancel(const Connection& c, std::uint64_t id) {
  return with_client(c, [&](gateway::Client& client) {
    const bool enterprise = client.role() == wire::Role::enterprise;
    const auto answer = client.cancel(enterprise ? wire::Side::order : wire::Side::offer, id);
    if (answer.accepted && !c.json) {
      fmt::print("cancelled: {} {}\n", enterprise ? "order" : "offer", id);
      return int(kTradeDone);
    }
    return report(c, enterprise ? "cancelled order" : "cancelled offer", 0, answer);
  });
}

int run_orders(const Connection& c) {
  return with_client(c, [&](gateway::Client& client) {
    const auto open = client.open_orders();
    if (!c.json)
      fmt::print("{:<6} {:>10} {:>20} {:>10} {:>10}  {}\n", "side", "id", "client order id", "units", "remaining",
                 "state");
    for (const auto& o : open) {
      if (c.json)
        fmt::print(
            "{{\"side\": \"{}\", \"id\": {}, \"client_order_id\": {}, \"units\": {}, \"remaining\": {}, "
            "\"state\": \"{}\"}}\n",
            wire::EnumNameSide(o.side), o.id, o.client_order_id, o.units, o.remaining, o.state());
      else
        fmt::print("{:<6} {:>10} {:>20} {:>10} {:>10}  {}\n", wire::EnumNameSide(o.side), o.id, o.client_order_id,
                   o.units, o.remaining, o.state());
    }
    if (!c.json) fmt::print("{} open\n", open.size());
    return int(kTradeDone);
  });
}

int run_contracts(const Connection& c, const std::string& filter_name, std::uint64_t key, std::uint64_t start,
                  std::uint32_t limit) {
  return with_client(c, [&](gateway::Client& client) {
    wire::ContractFilter filter = wire::ContractFilter::by_buyer;
    if (filter_name.empty()) {
      if (client.role() == wire::Role::auditor) throw std::invalid_argument("auditors choose a filter: --by and --key");
      // A trader's own contracts: its side's filter with key 0, which the server reads as "mine".
      filter =
          client.role() == wire::Role::enterprise ? wire::ContractFilter::by_buyer : wire::ContractFilter::by_seller;
    } else {
      static const std::pair<const char*, wire::ContractFilter> names[] = {
          {"buyer", wire::ContractFilter::by_buyer},
          {"seller", wire::ContractFilter::by_seller},
          {"hub", wire::ContractFilter::by_hub},
          {"cluster", wire::ContractFilter::by_cluster},
          {"batch", wire::ContractFilter::by_batch}};
      bool found = false;
      for (const auto& [name, f] : names)
        if (filter_name == name) filter = f, found = true;
      if (!found) throw std::invalid_argument("--by must be buyer, seller, hub, cluster or batch");
    }
    const auto page = client.contracts(filter, key, start, limit);
    contract_header(c);
    for (const auto& k : page.contracts) print_contract(c, k);
    if (!c.json) {
      fmt::print("{} contracts", page.contracts.size());
      if (page.next_start) fmt::print("; more from {} (--start {})", *page.next_start, *page.next_start);
      fmt::print("\n");
    }
    return int(kTradeDone);
  });
}

int run_watch(const Connection& c, bool batches, bool contracts, std::uint64_t count, int seconds) {
  return with_client(c, [&](gateway::Client& client) {
    client.subscribe(batches, contracts);
    const auto until = seconds > 0 ? std::chrono::steady_clock::now() + std::chrono::seconds(seconds)
                                   : std::chrono::steady_clock::time_point::max();
    std::uint64_t seen = 0;
    while ((count == 0 || seen < count) && std::chrono::steady_clock::now() < until) {
      const auto notice = client.next_notice(std::chrono::milliseconds(200));
      if (!notice) continue;
      ++seen;
      if (const auto* b = std::get_if<gateway::BatchSummary>(&*notice)) {
        if (c.json)
          fmt::print(
              "{{\"batch\": {}, \"cleared_at\": {}, \"orders\": {}, \"offers\": {}, \"contracts\": {}, \"units\": {}, "
              "\"total_surplus\": \"{}\", \"log_size\": {}, \"log_root\": \"{}\"}}\n",
              b->number, b->cleared_at, b->orders, b->offers, b->contracts, b->units, b->total_surplus, b->log_size,
              ledger::to_hex(b->log_root));
        else
          fmt::print("batch {}: {} orders, {} offers -> {} contracts, {} units, surplus {} fen/h; log {} root {}\n",
                     b->number, b->orders, b->offers, b->contracts, b->units, b->total_surplus, b->log_size,
                     ledger::to_hex(b->log_root).substr(0, 16));
      } else if (const auto* k = std::get_if<ledger::ContractRecord>(&*notice)) {
        if (!c.json) fmt::print("contract: ");
        print_contract(c, *k);
      } else if (const auto* f = std::get_if<gateway::FillView>(&*notice)) {
        if (c.json)
          fmt::print("{{\"fill\": \"{}\", \"id\": {}, \"units\": {}, \"remaining\": {}, \"batch\": {}}}\n",
                     wire::EnumNameSide(f->side), f->id, f->units, f->remaining, f->batch);
        else
          fmt::print("fill: {} {} filled {} units in batch {}, {} remaining\n", wire::EnumNameSide(f->side), f->id,
                     f->units, f->batch, f->remaining);
      } else if (const auto* x = std::get_if<gateway::ExpiryView>(&*notice)) {
        if (c.json)
          fmt::print("{{\"expired\": \"{}\", \"id\": {}, \"remaining\": {}, \"expired_at\": {}}}\n",
                     wire::EnumNameSide(x->side), x->id, x->remaining, x->expired_at);
        else
          fmt::print("expired: {} {} closed with {} units unfilled: its window passed\n", wire::EnumNameSide(x->side),
                     x->id, x->remaining);
      }
      std::fflush(stdout);
    }
    return int(kTradeDone);
  });
}

}  // namespace ewx::tools
