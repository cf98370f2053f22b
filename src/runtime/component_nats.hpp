// The engine's side of sdk::Nats: what components reach NATS with, over one of the engine's
// connections. JetStream publishing goes through bus::AsyncPublisher, the publisher of every
// stage; reading through bus::PullConsumer and bus::CoreSubscription.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bus/connection.hpp"
#include "sdk/nats.hpp"

namespace weir::runtime {

class ComponentNats final : public sdk::Nats {
 public:
  // `conn` outlives this and everything made from it (publishers, consumers, fetched messages).
  explicit ComponentNats(bus::Connection& conn) : conn_(conn) {}

  std::int64_t max_payload() const override;
  sdk::NatsStatus publish(const sdk::NatsMsg& msg) override;
  sdk::Status flush(std::chrono::nanoseconds timeout) override;
  sdk::Status stream_for(std::string_view subject, std::string& stream) override;
  sdk::NatsStatus stream_info(const std::string& stream, sdk::NatsStreamInfo& info) override;
  std::chrono::milliseconds redelivery_wait(std::chrono::nanoseconds ack_wait) const override;
  sdk::NatsStatus publisher(const sdk::NatsPublisherOptions& options,
                            std::unique_ptr<sdk::NatsPublisher>& out) override;
  sdk::NatsStatus consumer(const std::string& stream, const sdk::NatsConsumerSpec& spec,
                           std::unique_ptr<sdk::NatsConsumer>& out) override;
  sdk::NatsStatus subscribe(const std::string& subject, std::unique_ptr<sdk::NatsSubscription>& out) override;
  std::uint64_t reconnects() const override;

 private:
  bus::Connection& conn_;
};

}  // namespace weir::runtime
