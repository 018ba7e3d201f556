#include "app/app.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <csignal>
#include <random>

namespace sluice {
namespace {

constexpr Millis kHousekeepingInterval{100};
// How long after a module file's first change the reload starts: a file being copied in, or
// a ConfigMap update (several renames), is then complete.
constexpr Millis kReloadSettle{200};

std::unique_ptr<Metrics> makeMetrics(const Config& c) {
  if (c.metrics.listen.empty()) return nullptr;
  std::vector<std::string> names;
  for (const auto& s : c.sinks) names.push_back(s.name);
  return std::make_unique<Metrics>(names, SLUICE_VERSION);
}

// Which worker a transform of an event runs on: the order a sink asks for is kept by sending
// a partition's (or a key's) events to one worker. The pipeline transform serves every sink,
// so it keeps the strictest order any sink asks for.
TransformStage::Pinning pinningFor(Ordering ordering) {
  switch (ordering) {
    case Ordering::kPartition:
      return TransformStage::Pinning::kPartition;
    case Ordering::kKey:
      return TransformStage::Pinning::kKey;
    case Ordering::kUnordered:
      break;
  }
  return TransformStage::Pinning::kNone;
}

TransformStage::Pinning pinningFor(const Config& c) {
  auto pinning = TransformStage::Pinning::kNone;
  for (const auto& s : c.sinks) {
    if (s.ordering == Ordering::kPartition) return TransformStage::Pinning::kPartition;
    if (s.ordering == Ordering::kKey) pinning = TransformStage::Pinning::kKey;
  }
  return pinning;
}

}  // namespace

App::App(Config config, LoadedTransforms transforms)
    : config_(std::move(config)),
      // Per-sink offset trackers only where sink progress uses them: otherwise every event
      // would pay a push and a pop per sink for nothing.
      partitions_(config_.sink_progress ? config_.sinks.size() : 0),
      metrics_(makeMetrics(config_)),
      dispatch_(loop_, config_, std::random_device{}()),
      transport_(loop_, config_.sinks, dispatch_.dispatcher()),
      backpressure_(
          config_.backpressure, partitions_,
          [this](rd_kafka_topic_partition_list_t& list, bool pause) {
            pause ? consumer_.pause(list) : consumer_.resume(list);
          },
          [this] { return dispatch_.dispatcher().copiedBytes(); }),
      dead_letters_(loop_, config_.kafka, config_.dead_letter,
                    [this](EventPtr e) { pipeline_.deadLettered(std::move(e)); },
                    [this](const PartitionState&) { pipeline_.recheckDrains(); }),
      validate_(config_.validation, config_.idempotency, counters_),
      transforms_(std::move(transforms)),
      pipeline_(backpressure_, dead_letters_, counters_, config_.dead_letter.enabled()),
      offsets_(partitions_, consumer_),
      sink_progress_(config_, partitions_, consumer_, loop_,
                     [this](const PartitionState& p) { dispatch_.progressKnown(p); }),
      intake_(consumer_, partitions_, pipeline_, backpressure_, counters_, loop_,
              [this] { shutdown_.onFatal(); }),
      rebalance_(consumer_, partitions_, backpressure_, pipeline_, offsets_, sink_progress_),
      shutdown_(loop_, config_.shutdown_grace, signals_, consumer_, intake_, backpressure_,
                pipeline_, offsets_, dead_letters_),
      fetch_stalls_(consumer_, partitions_, backpressure_),
      status_({config_.metrics, dispatch_.dispatcher(), partitions_, consumer_, dead_letters_,
               backpressure_, intake_, counters_, rebalance_, shutdown_, fetch_stalls_, loop_},
              metrics_.get()),
      stats_line_(config_.stats_interval, [this] { return status_.sample(); }),
      consumer_(config_.kafka, rebalance_) {
  dispatch_.attach(transport_);
  pipeline_.add(validate_);
  if (transforms_.set) {
    transform_pool_ = std::make_unique<TransformPool>(*transforms_.engine, transforms_.workers);
    transform_pool_->publish(transforms_.set);
    const auto observe = [this](const TransformOutcome& o) {
      if (metrics_) {
        metrics_->observeTransform(o.transform, o.result,
                                   std::chrono::duration<double>(o.took).count());
      }
    };
    if (transforms_.set->pipeline) {
      std::vector<std::string> names;
      for (const auto& s : config_.sinks) names.push_back(s.name);
      transform_stage_ =
          std::make_unique<TransformStage>(*transform_pool_, std::move(names), pinningFor(config_));
      transform_stage_->observe(observe);
      pipeline_.add(*transform_stage_);
    }
    std::vector<TransformStage::Pinning> sink_pinning;
    bool sink_transforms = false;
    for (const auto& s : config_.sinks) {
      sink_transforms |= s.transform.has_value();
      sink_pinning.push_back(pinningFor(s.ordering));
    }
    if (sink_transforms) dispatch_.transformSinks(*transform_pool_, sink_pinning).observe(observe);
    status_.watchTransforms(transform_pool_.get(), transform_stage_.get(), dispatch_.sinkTransforms());
    loop_.watch(transform_pool_->fd(), EPOLLIN, [this](std::uint32_t) {
      for (auto& job : transform_pool_->take()) {
        if (job->forSink()) {
          dispatch_.sinkTransforms()->apply(std::move(job));
        } else {
          transform_stage_->apply(std::move(job));
        }
      }
      pipeline_.route();
    });
    watchTransformModules();
  }
  pipeline_.add(dispatch_);
  pipeline_.onSettled([this] { shutdown_.finishIfDrained(); });
  loop_.watch(consumer_.wakeFd(), EPOLLIN, [this](std::uint32_t) {
    consumer_.clearWake();
    shutdown_.serveClose();
    intake_.pull(false);
    // Routed here too, not only at the round's end: requests then start before this round's
    // timers run (curl's 0 ms timer), which saves a loop turn on every new event's way.
    pipeline_.route();
  });
  loop_.watch(signals_.fd(), EPOLLIN, [this](std::uint32_t) {
    const int sig = signals_.take();
    if (sig == SIGHUP) {
      if (reloader_) {
        reloader_->request("SIGHUP");
      } else {
        spdlog::info("SIGHUP: no transform to reload");
      }
    } else if (sig != 0) {
      shutdown_.onSignal(sig);
    }
  });
  loop_.addRoundHook([this] {
    pipeline_.route();
    offsets_.storeIfDue(loop_.now());
    // librdkafka signals the fd only when its queue turns non-empty; if we stopped early
    // (round budget, back-pressure) the rest must be fetched without waiting for a signal.
    intake_.pull(false);
    pipeline_.route();
  });
  loop_.runAfter(kHousekeepingInterval, [this] { housekeeping(); });
  consumer_.observeBrokers([this](bool reachable) {
    dispatch_.holdNew(!reachable);
    pipeline_.route();
  });
  if (sink_progress_.enabled()) {
    sink_progress_.open();
    loop_.watch(sink_progress_.fd(), EPOLLIN, [this](std::uint32_t) {
      sink_progress_.serve();
      pipeline_.route();
    });
    consumer_.observeCommits(
        [this](const rd_kafka_topic_partition_list_t& l) { sink_progress_.committed(l); });
    loop_.runAfter(SinkProgress::kWriteTick, [this] { writeSinkProgress(); });
  }
  if (metrics_) {
    pipeline_.observeCompleted(
        [this](const Event& e) { metrics_->observeCompletedRecord(e.timestamp_ms); });
    dispatch_.dispatcher().observeAttempts([this](std::uint32_t sink, const HttpResponse& r) {
      metrics_->observeDelivery(sink, std::chrono::duration<double>(r.elapsed).count());
    });
    status_server_ = std::make_unique<StatusServer>(
        loop_, config_.metrics.listen, [this](std::string_view path) { return status_.serve(path); });
  }
}

// The progress stores' threads read through the consumer's handle, which goes first; and the
// transform workers may still hold events, whose Kafka messages must go before the handle.
App::~App() {
  sink_progress_.close();
  reloader_.reset();  // waits for a compile under way
  transform_pool_.reset();
  dispatch_.stopTransforms();
}

int App::run() {
  if (transforms_.set) {
    const auto& set = *transforms_.set;
    if (set.pipeline) {
      spdlog::info("transform pipeline: {} (version {})", config_.transform->module,
                   set.pipeline->module->version());
    }
    for (std::size_t s = 0; s < set.sinks.size(); ++s) {
      if (set.sinks[s]) {
        spdlog::info("transform of sink {}: {} (version {})", config_.sinks[s].name,
                     config_.sinks[s].transform->module, set.sinks[s]->module->version());
      }
    }
    spdlog::info("transforms run on {} worker thread(s)", transforms_.workers);
  }
  spdlog::info("sluice {} starting: group {}, topics {}, {} sinks, dead letters {}",
               SLUICE_VERSION, config_.kafka.group, fmt::join(config_.kafka.topics, ","),
               config_.sinks.size(),
               config_.dead_letter.enabled() ? "to " + config_.dead_letter.topic
                                             : std::string("off (failing events hold commits)"));
  for (const auto& sink : config_.sinks) {
    if (!sink.tls.verify && sink.url.rfind("https://", 0) == 0) {
      spdlog::warn("sink {}: tls.verify is false: its certificate and host name are not "
                   "checked, so anyone on the path can read and answer its requests",
                   sink.name);
    }
  }
  if (status_server_) {
    spdlog::info("metrics, health and readiness on {} (port {})", config_.metrics.listen,
                 status_server_->port());
  }
  stats_line_.start();
  loop_.run();
  spdlog::info("stopped; {}", stats_line_.totals());
  return shutdown_.exitCode();
}

// The safety nets: polling Kafka even above the in-flight budget (so rebalance and commit
// callbacks run and the group keeps us), serving a close, polling the dead-letter producer
// should an eventfd wake be missed; and the stats line.
// Hot reload: inotify on the module files (debounced: a ConfigMap update is several events)
// and SIGHUP start a compile off the loop; the reloader publishes to the pool when it passes.
void App::watchTransformModules() {
  TransformReloader::Files files;
  std::vector<std::string> watched;
  if (config_.transform) {
    files.pipeline = config_.transform->module;
    watched.push_back(config_.transform->module);
  }
  for (const auto& s : config_.sinks) {
    files.sinks.push_back(s.transform ? std::optional<std::string>(s.transform->module)
                                      : std::nullopt);
    if (s.transform) watched.push_back(s.transform->module);
  }
  const WasmEngine& engine = *transforms_.engine;
  reloader_ = std::make_unique<TransformReloader>(
      std::move(files),
      [&engine](const std::string& file, TransformSlot& slot, bool sink) {
        return compileSlot(engine, file, slot, sink);
      },
      [this] { return transform_pool_->current(); },
      [this](TransformSetPtr set) { transform_pool_->publish(std::move(set)); });
  if (metrics_) {
    reloader_->observe([this](const TransformReloader::Outcome& o) {
      metrics_->observeReload(o.transform, o.result);
    });
  }
  loop_.watch(reloader_->fd(), EPOLLIN, [this](std::uint32_t) { reloader_->serve(); });
  module_watcher_ = std::make_unique<ModuleWatcher>(watched);
  loop_.watch(module_watcher_->fd(), EPOLLIN, [this](std::uint32_t) {
    if (!module_watcher_->changed() || reload_timer_ != 0) return;
    reload_timer_ = loop_.runAfter(kReloadSettle, [this] {
      reload_timer_ = 0;
      reloader_->request("a module file changed");
    });
  });
}

void App::housekeeping() {
  shutdown_.serveClose();
  backpressure_.tick(loop_.now());
  intake_.pull(true);
  dead_letters_.poll();
  fetch_stalls_.tick(loop_.now());
  stats_line_.tick(loop_.now());
  loop_.runAfter(kHousekeepingInterval, [this] { housekeeping(); });
}

void App::writeSinkProgress() {
  sink_progress_.write(false);
  loop_.runAfter(SinkProgress::kWriteTick, [this] { writeSinkProgress(); });
}

}  // namespace sluice
