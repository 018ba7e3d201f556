#include "transform/transform_reloader.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <system_error>

#include "transform/transform_loader.h"
#include "transform/transform_module.h"

namespace sluice {
namespace {

std::optional<std::string> fileSha(const std::string& file) {
  const auto bytes = readModuleFile(file);
  if (!bytes) return std::nullopt;
  return sha256Hex(*bytes);
}

}  // namespace

TransformReloader::TransformReloader(Files files, Compiler compile,
                                     std::function<TransformSetPtr()> current,
                                     std::function<void(TransformSetPtr)> publish)
    : files_(std::move(files)),
      compile_(std::move(compile)),
      current_(std::move(current)),
      publish_(std::move(publish)),
      done_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!done_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
}

TransformReloader::~TransformReloader() {
  if (worker_.joinable()) worker_.join();
}

void TransformReloader::request(const std::string& why) {
  if (running_) {
    pending_ = why;  // one more pass once this one is done: the file may have changed again
    return;
  }
  start(why);
}

void TransformReloader::start(std::string why) {
  if (worker_.joinable()) worker_.join();
  running_ = true;
  spdlog::info("transforms: reloading ({})", why);
  worker_ = std::thread([this, base = current_()] {
    Result r = compileAll(base);
    {
      const std::lock_guard lock(mutex_);
      result_ = std::move(r);
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(done_fd_.get(), &one, sizeof one);
  });
}

TransformReloader::Result TransformReloader::compileAll(const TransformSetPtr& base) {
  Result r;
  auto next = std::make_shared<TransformSet>(*base);
  bool changed = false;
  bool failed = false;
  auto one = [&](const std::optional<std::string>& file, std::optional<TransformSlot>& slot,
                 bool sink_transform) {
    if (!file || !slot) return;
    const auto sha = fileSha(*file);
    if (sha && slot->module && *sha == slot->module->sha256()) {
      r.outcomes.push_back({slot->name, "unchanged", std::string(slot->module->version())});
      return;
    }
    TransformSlot fresh = *slot;
    if (std::string why = compile_(*file, fresh, sink_transform); !why.empty()) {
      r.outcomes.push_back({slot->name, "failed", std::move(why)});
      failed = true;
      return;
    }
    r.outcomes.push_back({slot->name, "ok", std::string(fresh.module->version())});
    slot = std::move(fresh);
    changed = true;
  };
  one(files_.pipeline, next->pipeline, false);
  for (std::size_t s = 0; s < next->sinks.size() && s < files_.sinks.size(); ++s) {
    one(files_.sinks[s], next->sinks[s], true);
  }
  if (changed && !failed) r.set = std::move(next);
  return r;
}

void TransformReloader::serve() {
  std::uint64_t n = 0;
  [[maybe_unused]] const auto got = ::read(done_fd_.get(), &n, sizeof n);
  std::optional<Result> r;
  {
    const std::lock_guard lock(mutex_);
    r = std::move(result_);
    result_.reset();
  }
  if (!r) return;
  if (worker_.joinable()) worker_.join();
  running_ = false;
  bool failed = false;
  for (const auto& o : r->outcomes) {
    if (observer_) observer_(o);
    if (std::string_view(o.result) == "failed") {
      failed = true;
      spdlog::error("transform {}: reload refused, the running version stays: {}", o.transform,
                    o.detail);
    } else if (std::string_view(o.result) == "ok") {
      spdlog::info("transform {}: version {} checked", o.transform, o.detail);
    }
  }
  if (r->set) {
    publish_(r->set);
    spdlog::info("transforms: new version in force for events not yet transformed");
  } else if (!failed) {
    spdlog::info("transforms: no module changed");
  }
  if (pending_) {
    std::string why = std::move(*pending_);
    pending_.reset();
    start(std::move(why));
  }
}

}  // namespace sluice
