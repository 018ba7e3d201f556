#include "app/shutdown.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace sluice {
namespace {

constexpr Millis kCloseDeadline{10'000};

}  // namespace

Shutdown::Shutdown(EventLoop& loop, Millis grace, TerminationSignals& signals,
                   KafkaConsumer& consumer, Intake& intake, Backpressure& backpressure,
                   Pipeline& pipeline, OffsetStore& offsets,
                   const DeadLetters& dead_letters)
    : loop_(loop),
      grace_(grace),
      signals_(signals),
      consumer_(consumer),
      intake_(intake),
      backpressure_(backpressure),
      pipeline_(pipeline),
      offsets_(offsets),
      dead_letters_(dead_letters) {}

void Shutdown::onSignal(int sig) {
  if (phase_ != Phase::kRunning) {
    spdlog::warn("second signal ({}): exiting at once; undelivered events will be redelivered",
                 sig);
    std::_Exit(128 + sig);
  }
  spdlog::info("signal {}: draining {} in-flight events (grace {} ms)", sig,
               backpressure_.inFlightEvents(), grace_.count());
  begin();
}

void Shutdown::onFatal() {
  exit_code_ = 1;
  if (phase_ != Phase::kRunning) return;
  // A signal that arrived meanwhile is this same shutdown, not a second signal that would
  // exit at once.
  if (const int sig = signals_.take(); sig != 0) spdlog::info("signal {} while stopping", sig);
  spdlog::info("fatal Kafka error: draining {} in-flight events (grace {} ms), then exit 1",
               backpressure_.inFlightEvents(), grace_.count());
  begin();
}

void Shutdown::begin() {
  phase_ = Phase::kDraining;
  intake_.stopAdmitting();
  backpressure_.stopIntake();
  grace_timer_ = loop_.runAfter(grace_, [this] {
    grace_timer_ = 0;
    // Timers run before the round's routing: events finished in this round are done, not
    // left to be redelivered. Routing may end the drain itself.
    pipeline_.route();
    finishDrain();
  });
  // Checked where drains are checked, once the call that began this has returned.
  pipeline_.recheckDrains();
}

void Shutdown::finishIfDrained() {
  if (phase_ == Phase::kDraining && backpressure_.inFlightEvents() == dead_letters_.held()) {
    finishDrain();
  }
}

void Shutdown::finishDrain() {
  if (phase_ != Phase::kDraining) return;
  phase_ = Phase::kClosing;
  if (grace_timer_ != 0) loop_.cancel(grace_timer_);
  grace_timer_ = 0;
  const std::size_t left = pipeline_.abandon(nullptr);
  if (left > 0) {
    spdlog::warn("stopping with {} undelivered events; they will be redelivered", left);
  }
  offsets_.store();
  intake_.stopPolling();
  spdlog::info("leaving the consumer group");
  consumer_.beginClose();
  loop_.runAfter(kCloseDeadline, [this] {
    spdlog::warn("consumer close did not finish in {} ms; exiting", kCloseDeadline.count());
    consumer_.abandonClose();
    loop_.stop();
  });
  serveClose();
}

void Shutdown::serveClose() {
  if (phase_ == Phase::kClosing && consumer_.serveClose()) loop_.stop();
}

}  // namespace sluice
