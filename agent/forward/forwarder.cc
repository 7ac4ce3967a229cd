// Forwarder: one loop on its own thread — apply acks, pick the uplink (MQTT, HTTP or none),
// expire timed-out batches from the window, hand out more, sleep until something happens.
#include "forward/forwarder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "edgesketch/wire/codec.h"

namespace edgesketch::agent {
namespace {

constexpr std::int64_t kMsNs = 1'000'000;

Status check_topic_level(std::string_view what, const std::string& v) {
  if (v.empty()) return Status::invalid_argument("forwarder: " + std::string(what) + " is empty");
  if (v.find_first_of("/+#") != std::string::npos) {
    return Status::invalid_argument("forwarder: " + std::string(what) + " '" + v +
                                    "' contains '/', '+' or '#' (it is one MQTT topic level)");
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<Forwarder>> Forwarder::create(ForwarderOptions options, Outbox* outbox,
                                                     const Clock* clock) {
  if (outbox == nullptr) return Status::invalid_argument("forwarder: no outbox");
  ES_RETURN_IF_ERROR(check_topic_level("tenant", options.tenant));
  ES_RETURN_IF_ERROR(check_topic_level("gateway_id", options.gateway_id));
  if (options.topic_prefix.empty() ||
      options.topic_prefix.find_first_of("+#") != std::string::npos) {
    return Status::invalid_argument("forwarder: topic_prefix '" + options.topic_prefix +
                                    "' is empty or contains a wildcard");
  }
  if (options.max_in_flight == 0) {
    return Status::invalid_argument("forwarder: max_in_flight must be at least 1");
  }
  if (options.ack_timeout_ms <= 0) {
    return Status::invalid_argument("forwarder: ack_timeout_ms must be positive, not " +
                                    std::to_string(options.ack_timeout_ms));
  }
  if (options.mqtt.uri.empty() && options.http_url.empty()) {
    return Status::invalid_argument("forwarder: neither a broker nor an HTTP url to send to");
  }
  if (options.idle_poll_ms <= 0) options.idle_poll_ms = 200;
  if (options.mqtt.client_id.empty())
    options.mqtt.client_id = "edgesketch-agent-" + options.gateway_id;
  std::unique_ptr<Forwarder> f(new Forwarder(std::move(options), outbox, clock));
  Forwarder* self = f.get();
  if (!f->options_.mqtt.uri.empty()) {
    net::MqttLinkOptions link_options;
    link_options.connection = f->options_.mqtt;
    link_options.name = "uplink";
    link_options.subscriptions = {{f->ack_topic_, 1}};
    link_options.max_inflight =
        std::max<int>(link_options.max_inflight, static_cast<int>(f->options_.max_in_flight) * 2);
    ES_ASSIGN_OR_RETURN(f->link_, net::MqttLink::create(
                                      std::move(link_options),
                                      [self](const std::string& /*topic*/, ByteSpan payload) {
                                        self->on_ack_message(payload);
                                      },
                                      [self](bool /*connected*/) { self->wake(); }));
  }
  if (!f->options_.http_url.empty()) {
    HttpUplinkOptions h;
    h.url = f->options_.http_url;
    h.bearer_token = f->options_.http_token;
    h.timeout_ms = f->options_.http_timeout_ms;
    ES_ASSIGN_OR_RETURN(f->http_, HttpUplink::create(std::move(h)));
  }
  return f;
}

Forwarder::Forwarder(ForwarderOptions options, Outbox* outbox, const Clock* clock)
    : options_(std::move(options)),
      outbox_(outbox),
      clock_(clock != nullptr ? clock : &system_clock_),
      windows_topic_(options_.topic_prefix + "/" + options_.tenant + "/" + options_.gateway_id +
                     "/windows"),
      ack_topic_(options_.topic_prefix + "/" + options_.tenant + "/" + options_.gateway_id +
                 "/ack"),
      backlog_bucket_(options_.backlog_batches_per_s, options_.backlog_burst,
                      clock_->monotonic_ns()),
      http_backoff_(std::make_unique<net::Backoff>(options_.http_backoff)) {}

Forwarder::~Forwarder() { stop(); }

void Forwarder::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  if (link_) link_->start();
  thread_ = std::thread([this] { run(); });
}

void Forwarder::stop() {
  stopping_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (link_) link_->stop();
}

void Forwarder::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Forwarder::on_ack_message(ByteSpan payload) {
  ack_messages_.fetch_add(1, std::memory_order_relaxed);
  Result<wire::Ack> ack = wire::decode_ack(payload, options_.limits);
  if (!ack.ok()) {
    bad_acks_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("forwarder: ignoring an undecodable ack on {} ({} bytes): {}", ack_topic_,
                 payload.size(), ack.status().message());
    return;
  }
  if (ack->gateway_id != options_.gateway_id) {
    foreign_acks_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("forwarder: ignoring an ack for gateway '{}' on {} (we are '{}')", ack->gateway_id,
                 ack_topic_, options_.gateway_id);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_acks_.size() >= options_.max_pending_acks) {
      dropped_acks_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pending_acks_.push_back(std::move(ack).value());
  }
  cv_.notify_all();
}

void Forwarder::outbox_error(const Status& s, std::string_view what) {
  outbox_errors_.fetch_add(1, std::memory_order_relaxed);
  outbox_failing_.store(true, std::memory_order_relaxed);
  std::int64_t now = clock_->monotonic_ns();
  if (now - last_error_log_ns_ >= 10'000 * kMsNs || last_error_log_ns_ == 0) {
    last_error_log_ns_ = now;
    spdlog::error("forwarder: outbox {} failed: {}", what, s.to_string());
  }
}

void Forwarder::note_acked(std::uint64_t seq, std::int64_t now_ns) {
  if (outstanding_.erase(seq) > 0) {
    acked_.fetch_add(1, std::memory_order_relaxed);
  } else {
    repeat_acks_.fetch_add(1, std::memory_order_relaxed);
  }
  in_flight_.erase(seq);
  last_ack_ns_.store(now_ns, std::memory_order_relaxed);
}

void Forwarder::process_acks() {
  std::deque<wire::Ack> acks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    acks.swap(pending_acks_);
  }
  if (acks.empty()) return;
  std::vector<std::uint64_t> seqs;
  for (const wire::Ack& a : acks) seqs.insert(seqs.end(), a.seqs.begin(), a.seqs.end());
  std::int64_t now = clock_->monotonic_ns();
  if (!seqs.empty()) {
    std::lock_guard stats_lock(stats_mu_);
    Status s = outbox_->ack(seqs);
    if (!s.ok()) {
      // Not deleted: the rows stay and are resent; the collector dedupes.
      outbox_error(s, "ack");
    } else {
      outbox_ok();
      for (std::uint64_t seq : seqs) note_acked(seq, now);
    }
  }
  for (const wire::Ack& a : acks) {
    for (const wire::AckRejection& r : a.rejected) drop_rejected(r.seq, r.reason);
  }
  in_flight_count_.store(in_flight_.size(), std::memory_order_relaxed);
}

void Forwarder::drop_rejected(std::uint64_t seq, std::string_view reason) {
  std::lock_guard stats_lock(stats_mu_);
  Status s = outbox_->reject(seq);
  if (!s.ok()) {
    outbox_error(s, "reject");
    return;
  }
  spdlog::warn("forwarder: the collector rejected batch {} ({}); dropped", seq, reason);
  rejected_.fetch_add(1, std::memory_order_relaxed);
  outstanding_.erase(seq);
  in_flight_.erase(seq);
}

void Forwarder::expire_in_flight(std::int64_t now_ns) {
  std::int64_t timeout_ns = options_.ack_timeout_ms * kMsNs;
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (now_ns - it->second.sent_ns >= timeout_ns) {
      it = in_flight_.erase(it);  // the outbox hands it out again (resend_after_ms)
    } else {
      ++it;
    }
  }
  in_flight_count_.store(in_flight_.size(), std::memory_order_relaxed);
}

void Forwarder::note_handed_out(const OutboxBatch& b) {
  if (b.sent_count > 1) resent_.fetch_add(1, std::memory_order_relaxed);
  outstanding_.insert(b.seq);
}

void Forwarder::send_round_mqtt(std::int64_t now_ns) {
  auto publish_all = [&](const std::vector<OutboxBatch>& batches, Lane lane) {
    for (const OutboxBatch& b : batches) {
      note_handed_out(b);
      // In the window even when the publish fails: it comes back after the timeout or the
      // reconnect, whichever is first.
      in_flight_[b.seq] = InFlight{now_ns, lane};
      Status s = link_->publish(windows_topic_, b.payload, 1);
      if (!s.ok()) {
        publish_errors_.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("forwarder: {}", s.message());
        continue;
      }
      published_.fetch_add(1, std::memory_order_relaxed);
      (lane == Lane::kLive ? published_live_ : published_backlog_)
          .fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::size_t room = options_.max_in_flight - std::min(options_.max_in_flight, in_flight_.size());
  if (room == 0) return;
  Result<std::vector<OutboxBatch>> live = outbox_->next_to_send(Lane::kLive, room);
  if (!live.ok()) {
    outbox_error(live.status(), "next_to_send(live)");
    return;
  }
  outbox_ok();
  publish_all(*live, Lane::kLive);
  room -= std::min(room, live->size());
  if (room == 0 || !link_->connected()) return;
  std::optional<std::vector<OutboxBatch>> backlog = next_backlog(room, now_ns);
  if (!backlog) return;
  publish_all(*backlog, Lane::kBacklog);
  in_flight_count_.store(in_flight_.size(), std::memory_order_relaxed);
}

void Forwarder::send_round_http(std::int64_t now_ns) {
  if (now_ns < http_next_ns_) return;
  auto post_all = [&](const std::vector<OutboxBatch>& batches) -> bool {
    for (const OutboxBatch& b : batches) {
      if (stopping_.load()) return false;
      note_handed_out(b);
      http_posts_.fetch_add(1, std::memory_order_relaxed);
      Status s = http_->post(b.payload);
      if (s.code() == StatusCode::kInvalidArgument) {
        // Refused for good: dropped and counted like an Ack rejection, the backlog goes on.
        http_backoff_->reset();
        drop_rejected(b.seq, s.message());
        continue;
      }
      if (!s.ok()) {
        http_errors_.fetch_add(1, std::memory_order_relaxed);
        std::int64_t delay = http_backoff_->next_delay_ms();
        if (http_backoff_->failures() == 1) {
          spdlog::warn("forwarder: {}; retrying in {} ms", s.message(), delay);
        }
        http_next_ns_ = clock_->monotonic_ns() + delay * kMsNs;
        // The rest of this round (and the failed one) are handed out again next time.
        Status rq = outbox_->requeue_unacked();
        if (!rq.ok()) outbox_error(rq, "requeue_unacked");
        return false;
      }
      http_backoff_->reset();
      std::lock_guard stats_lock(stats_mu_);
      Status a = outbox_->ack(b.seq);
      if (!a.ok()) {
        outbox_error(a, "ack");
        continue;
      }
      note_acked(b.seq, clock_->monotonic_ns());
    }
    return true;
  };
  Result<std::vector<OutboxBatch>> live =
      outbox_->next_to_send(Lane::kLive, options_.max_in_flight);
  if (!live.ok()) {
    outbox_error(live.status(), "next_to_send(live)");
    return;
  }
  if (!post_all(*live)) return;
  if (live->size() >= options_.max_in_flight) return;
  if (std::optional<std::vector<OutboxBatch>> backlog =
          next_backlog(options_.max_in_flight, now_ns)) {
    post_all(*backlog);
  }
}

std::optional<std::vector<OutboxBatch>> Forwarder::next_backlog(std::size_t room,
                                                                std::int64_t now_ns) {
  const std::size_t n = std::min(room, backlog_bucket_.available(now_ns));
  if (n == 0) return std::nullopt;
  Result<std::vector<OutboxBatch>> backlog = outbox_->next_to_send(Lane::kBacklog, n);
  if (!backlog.ok()) {
    outbox_error(backlog.status(), "next_to_send(backlog)");
    return std::nullopt;
  }
  backlog_bucket_.take(backlog->size());
  return std::move(*backlog);
}

std::int64_t Forwarder::next_wait_ns(std::int64_t now_ns) {
  std::int64_t wait = static_cast<std::int64_t>(options_.idle_poll_ms) * kMsNs;
  std::int64_t token = backlog_bucket_.ns_until_token(now_ns);
  if (token > 0) wait = std::min(wait, token);
  std::int64_t timeout_ns = options_.ack_timeout_ms * kMsNs;
  for (const auto& [seq, f] : in_flight_) {
    wait = std::min(wait, std::max<std::int64_t>(kMsNs, f.sent_ns + timeout_ns - now_ns));
  }
  return std::max<std::int64_t>(kMsNs, wait);
}

void Forwarder::run() {
  while (!stopping_.load()) {
    process_acks();
    std::int64_t now = clock_->monotonic_ns();
    UplinkState state = UplinkState::kDisconnected;
    if (link_ && link_->connected()) {
      down_since_ns_ = -1;
      state = UplinkState::kConnected;
      std::uint64_t epoch = link_->epoch();
      if (epoch != seen_epoch_) {
        // A new connection: whatever was in flight on the old one may be lost (the broker's
        // PUBACK is not durability, and a restarted broker forgets its queues). Send it all again.
        seen_epoch_ = epoch;
        if (epoch > 1) spdlog::info("forwarder: uplink reconnected; resending unacked batches");
        Status s = outbox_->requeue_unacked();
        if (!s.ok()) outbox_error(s, "requeue_unacked");
        in_flight_.clear();
      }
    } else {
      if (down_since_ns_ < 0) down_since_ns_ = now;
      if (http_ && (!link_ || now - down_since_ns_ >= options_.http_fallback_after_ms * kMsNs)) {
        state = UplinkState::kHttp;
        if (state_.load() != UplinkState::kHttp) {
          if (link_) {
            spdlog::warn("forwarder: uplink broker unreachable for {} ms; falling back to HTTP {}",
                         (now - down_since_ns_) / kMsNs, http_->url());
          } else {
            spdlog::info("forwarder: no uplink broker configured; sending over HTTP {}",
                         http_->url());
          }
          Status s = outbox_->requeue_unacked();
          if (!s.ok()) outbox_error(s, "requeue_unacked");
          in_flight_.clear();
          http_next_ns_ = 0;
        }
      }
    }
    state_.store(state, std::memory_order_relaxed);
    expire_in_flight(now);
    if (state == UplinkState::kConnected) {
      send_round_mqtt(now);
    } else if (state == UplinkState::kHttp) {
      send_round_http(now);
    }
    now = clock_->monotonic_ns();
    std::int64_t wait_ns = next_wait_ns(now);
    if (state == UplinkState::kHttp && http_next_ns_ > now) {
      wait_ns = std::min(wait_ns, http_next_ns_ - now);
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns),
                 [this] { return stopping_.load() || woken_ || !pending_acks_.empty(); });
    woken_ = false;
  }
}

ForwarderStats Forwarder::stats() const {
  std::lock_guard stats_lock(stats_mu_);
  ForwarderStats s;
  s.state = state_.load(std::memory_order_relaxed);
  s.published = published_.load();
  s.published_live = published_live_.load();
  s.published_backlog = published_backlog_.load();
  s.resent = resent_.load();
  s.acked = acked_.load();
  s.rejected = rejected_.load();
  s.in_flight = in_flight_count_.load();
  std::int64_t last = last_ack_ns_.load();
  s.last_ack_age_ms = last < 0 ? -1 : (clock_->monotonic_ns() - last) / kMsNs;
  s.ack_messages = ack_messages_.load();
  s.bad_acks = bad_acks_.load();
  s.foreign_acks = foreign_acks_.load();
  s.dropped_acks = dropped_acks_.load();
  s.repeat_acks = repeat_acks_.load();
  s.publish_errors = publish_errors_.load();
  s.outbox_errors = outbox_errors_.load();
  s.outbox_failing = outbox_failing_.load();
  s.http_posts = http_posts_.load();
  s.http_errors = http_errors_.load();
  if (link_) s.mqtt = link_->stats();
  s.reconnects = s.mqtt.connects > 0 ? s.mqtt.connects - 1 : 0;
  return s;
}

}  // namespace edgesketch::agent
