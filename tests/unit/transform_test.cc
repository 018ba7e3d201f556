#include <gtest/gtest.h>

#include <string>

#include "sluice_transform.h"  // proto/: the guests' view of the layout, built natively here
#include "transform/event_layout.h"
#include "transform/transform_instance.h"
#include "transform/transform_module.h"

namespace sluice {
namespace {

// Test modules in the WebAssembly text format: a bump allocator, the ABI version, and a
// transform body given by each test.
std::string module(const std::string& transform, const std::string& extra = "",
                   int abi_version = 1) {
  return R"((module
  (import "sluice" "set_body" (func $set_body (param i32 i32)))
  (import "sluice" "set_header" (func $set_header (param i32 i32 i32 i32)))
  (import "sluice" "route" (func $route (param i32 i32)))
  (import "sluice" "fail" (func $fail (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello")
  (data (i32.const 32) "X-Seen")
  (data (i32.const 48) "yes")
  (data (i32.const 64) "not today")
  (data (i32.const 80) "b")
  (global $next (mut i32) (i32.const 1024))
  (global $config_len (mut i32) (i32.const -1))
  (func (export "sluice_abi_version") (result i32) (i32.const )" +
         std::to_string(abi_version) + R"())
  (func $alloc (export "sluice_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $n)))
    (local.get $p))
  (func (export "sluice_transform") (param $ev i32) (param $len i32) (result i32)
    )" + transform + ")\n" + extra + "\n)";
}

std::vector<std::uint8_t> wat2wasm(const std::string& wat) {
  wasm_byte_vec_t out;
  WasmErrorPtr error(wasmtime_wat2wasm(wat.data(), wat.size(), &out));
  EXPECT_FALSE(error) << (error ? wasmErrorText(error.get()) : "");
  std::vector<std::uint8_t> bytes(out.data, out.data + (error ? 0 : out.size));
  if (!error) wasm_byte_vec_delete(&out);
  return bytes;
}

class TransformTest : public ::testing::Test {
 protected:
  std::variant<TransformModulePtr, std::string> compile(const std::string& wat) {
    const auto wasm = wat2wasm(wat);
    return TransformModule::compile(
        *engine, std::string_view(reinterpret_cast<const char*>(wasm.data()), wasm.size()));
  }
  std::unique_ptr<TransformInstance> instance(const std::string& wat, TransformLimits limits = {},
                                              std::string_view config = "",
                                              bool sink_transform = false) {
    auto m = compile(wat);
    if (auto* why = std::get_if<std::string>(&m)) {
      ADD_FAILURE() << "module refused: " << *why;
      return nullptr;
    }
    auto i = TransformInstance::create(*engine, std::get<TransformModulePtr>(m), limits, config,
                                       sink_transform);
    if (auto* why = std::get_if<std::string>(&i)) {
      ADD_FAILURE() << "instance refused: " << *why;
      return nullptr;
    }
    return std::move(std::get<std::unique_ptr<TransformInstance>>(i));
  }
  std::string refusal(const std::string& wat, std::string_view config = "") {
    auto m = compile(wat);
    if (auto* why = std::get_if<std::string>(&m)) return *why;
    auto i = TransformInstance::create(*engine, std::get<TransformModulePtr>(m), {}, config, false);
    if (auto* why = std::get_if<std::string>(&i)) return *why;
    return "";
  }
  TransformInput input() {
    TransformInput in;
    in.offset = 42;
    in.timestamp_ms = 1700000000123;
    in.partition = 3;
    in.topic = "orders";
    in.key = "k1";
    in.value = R"({"card":"4111"})";
    in.headers = {{"trace", "abc"}, {"empty", std::nullopt}};
    return in;
  }

  std::unique_ptr<WasmEngine> engine = std::make_unique<WasmEngine>(WasmEngine::Options{true, true});
};

TEST(TransformLayout, WhatTheHostWritesIsWhatTheGuestHeaderReads) {
  TransformInput in;
  in.offset = -7;
  in.timestamp_ms = 1700000000123;
  in.partition = 11;
  in.topic = "orders";
  in.key = std::nullopt;
  in.value = "{\"a\":1}";
  in.sink = "billing";
  in.headers = {{"trace", "abc"}, {"gone", std::nullopt}, {"", ""}};
  const auto size = layoutSize(in);
  ASSERT_TRUE(size);
  std::vector<std::uint8_t> buf(*size);
  writeLayout(in, buf.data());
  const sluice_event e = sluice_event_view(buf.data(), static_cast<std::uint32_t>(buf.size()));
  EXPECT_EQ(e.offset, -7);
  EXPECT_EQ(e.timestamp_ms, 1700000000123);
  EXPECT_EQ(e.partition, 11);
  auto str = [](sluice_bytes b) {
    return std::string(reinterpret_cast<const char*>(b.data), b.len);
  };
  EXPECT_EQ(str(e.topic), "orders");
  EXPECT_EQ(e.key.len, SLUICE_NULL_LEN);
  EXPECT_EQ(e.key.data, nullptr);
  EXPECT_EQ(str(e.value), "{\"a\":1}");
  EXPECT_EQ(str(e.sink), "billing");
  ASSERT_EQ(e.header_count, 3u);
  const sluice_header h0 = sluice_event_header(&e, 0);
  const sluice_header h1 = sluice_event_header(&e, 1);
  EXPECT_EQ(str(h0.name), "trace");
  EXPECT_EQ(str(h0.value), "abc");
  EXPECT_EQ(str(h1.name), "gone");
  EXPECT_EQ(h1.value.len, SLUICE_NULL_LEN);
  EXPECT_EQ(sluice_event_header(&e, 2).name.len, 0u);
  // Every byte is accounted for: nothing overlaps, nothing is left over.
  EXPECT_EQ(*size, SLUICE_EVENT_FIXED + 3 * SLUICE_HEADER_ENTRY + 6 + 7 + 7 + 5 + 3 + 4);
}

TEST_F(TransformTest, PassingUnchangedSetsNothing) {
  auto t = instance(module("(i32.const 0)"));
  ASSERT_TRUE(t);
  const auto out = t->run(input());
  EXPECT_EQ(out.result, TransformOutput::Result::kPass);
  EXPECT_FALSE(out.body);
  EXPECT_TRUE(out.headers.empty());
  EXPECT_FALSE(out.broken);
}

// The guest reads value_off and value_len (bytes 40 and 44 of the layout) and sends the
// value back as the body: the event really is in its memory where the ABI says.
TEST_F(TransformTest, TheModuleReadsTheEventFromItsMemoryAndSetsBodyAndHeaders) {
  auto t = instance(module(R"(
    (call $set_body
      (i32.add (local.get $ev) (i32.load (i32.add (local.get $ev) (i32.const 40))))
      (i32.load (i32.add (local.get $ev) (i32.const 44))))
    (call $set_header (i32.const 32) (i32.const 6) (i32.const 16) (i32.const 5))
    (call $set_header (i32.const 32) (i32.const 6) (i32.const 48) (i32.const 3))
    (i32.const 0))"));
  ASSERT_TRUE(t);
  for (int round = 0; round < 3; ++round) {  // the buffer is reused
    TransformInput in = input();
    const std::string value = "{\"n\":" + std::to_string(round * 1000) + "}";
    in.value = value;
    const auto out = t->run(in);
    EXPECT_EQ(out.result, TransformOutput::Result::kPass);
    ASSERT_TRUE(out.body);
    EXPECT_EQ(*out.body, value);
    ASSERT_EQ(out.headers.size(), 1u);  // the second set_header replaced the first
    EXPECT_EQ(out.headers[0], (std::pair<std::string, std::string>{"X-Seen", "yes"}));
  }
}

TEST_F(TransformTest, DropAndFailWithAReason) {
  auto dropper = instance(module("(i32.const 1)"));
  ASSERT_TRUE(dropper);
  EXPECT_EQ(dropper->run(input()).result, TransformOutput::Result::kDrop);
  auto failer = instance(module("(call $fail (i32.const 64) (i32.const 9)) (i32.const 2)"));
  ASSERT_TRUE(failer);
  const auto out = failer->run(input());
  EXPECT_EQ(out.result, TransformOutput::Result::kFail);
  EXPECT_EQ(out.error, "not today");
  EXPECT_FALSE(out.broken);  // a clean failure keeps the instance
}

TEST_F(TransformTest, ATrapFailsTheEventAndBreaksTheInstance) {
  auto t = instance(module("(unreachable)"));
  ASSERT_TRUE(t);
  const auto out = t->run(input());
  EXPECT_EQ(out.result, TransformOutput::Result::kFail);
  EXPECT_TRUE(out.broken);
  EXPECT_NE(out.error.find("unreachable"), std::string::npos) << out.error;
}

TEST_F(TransformTest, AnEndlessLoopRunsOutOfFuelOrTime) {
  const std::string endless = module("(loop $l (br $l)) (i32.const 0)");
  TransformLimits fuel;
  fuel.fuel = 1'000'000;
  auto a = instance(endless, fuel);
  ASSERT_TRUE(a);
  auto out = a->run(input());
  EXPECT_TRUE(out.broken);
  EXPECT_NE(out.error.find("used up its fuel"), std::string::npos) << out.error;

  TransformLimits time;
  time.time = std::chrono::milliseconds(20);
  auto b = instance(endless, time);
  ASSERT_TRUE(b);
  const auto started = std::chrono::steady_clock::now();
  out = b->run(input());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(out.broken);
  EXPECT_NE(out.error.find("ran out of time"), std::string::npos) << out.error;
  EXPECT_LT(took, std::chrono::seconds(2));  // stopped, not left running
}

TEST_F(TransformTest, TheMemoryLimitRefusesGrowth) {
  // Grows by 64 pages (4 MiB) per event: refused (-1) under a 2 MiB limit.
  const std::string grower = module(R"(
    (if (i32.eq (memory.grow (i32.const 64)) (i32.const -1))
      (then (call $fail (i32.const 64) (i32.const 9)) (return (i32.const 2))))
    (i32.const 0))");
  TransformLimits small;
  small.memory_bytes = 2 << 20;
  auto t = instance(grower, small);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->run(input()).result, TransformOutput::Result::kFail);
  auto unlimited = instance(grower);
  ASSERT_TRUE(unlimited);
  EXPECT_EQ(unlimited->run(input()).result, TransformOutput::Result::kPass);
}

TEST_F(TransformTest, MalformedResultsBreakTheInstance) {
  auto t = instance(module("(i32.const 7)"));
  ASSERT_TRUE(t);
  auto out = t->run(input());
  EXPECT_TRUE(out.broken);
  EXPECT_NE(out.error.find("returned 7"), std::string::npos) << out.error;
  auto oob = instance(module("(call $set_body (i32.const 65000) (i32.const 1000)) (i32.const 0)"));
  ASSERT_TRUE(oob);
  out = oob->run(input());
  EXPECT_TRUE(out.broken);
  EXPECT_NE(out.error.find("outside the module's memory"), std::string::npos) << out.error;
}

TEST_F(TransformTest, RouteIsForThePipelineTransformOnly) {
  const std::string router = module("(call $route (i32.const 80) (i32.const 1)) (i32.const 0)");
  auto pipeline = instance(router);
  ASSERT_TRUE(pipeline);
  EXPECT_EQ(pipeline->run(input()).routes, std::vector<std::string>{"b"});
  auto sink = instance(router, {}, "", true);
  ASSERT_TRUE(sink);
  const auto out = sink->run(input());
  EXPECT_TRUE(out.broken);
  EXPECT_NE(out.error.find("pipeline transform"), std::string::npos) << out.error;
}

TEST_F(TransformTest, InitGetsTheConfigAndMayRefuseIt) {
  // sluice_init keeps the config's length; the transform then drops events when it was 0.
  const std::string init = R"(
  (func (export "sluice_init") (param $p i32) (param $n i32) (result i32)
    (global.set $config_len (local.get $n))
    (if (result i32) (i32.eq (local.get $n) (i32.const 3))
      (then (call $fail (i32.const 64) (i32.const 9)) (i32.const 1))
      (else (i32.const 0)))))";
  const std::string wat =
      module("(if (result i32) (i32.eqz (global.get $config_len)) (then (i32.const 1)) "
             "(else (i32.const 0)))",
             init);
  auto with_config = instance(wat, {}, R"({"mask":["card"]})");
  ASSERT_TRUE(with_config);
  EXPECT_EQ(with_config->run(input()).result, TransformOutput::Result::kPass);
  auto without = instance(wat, {}, "");
  ASSERT_TRUE(without);
  EXPECT_EQ(without->run(input()).result, TransformOutput::Result::kDrop);
  EXPECT_EQ(refusal(wat, "bad"), "sluice_init refused its config: not today");
}

TEST_F(TransformTest, ModulesThatDoNotSpeakTheAbiAreRefusedWithTheReason) {
  EXPECT_NE(refusal(module("(i32.const 0)", "", 2)).find("ABI version 2"), std::string::npos);
  EXPECT_EQ(refusal(R"((module (memory (export "memory") 1)
    (func (export "sluice_abi_version") (result i32) (i32.const 1))
    (func (export "sluice_alloc") (param i32) (result i32) (i32.const 0))))"),
            "does not export sluice_transform");
  EXPECT_NE(refusal(R"((module (import "env" "clock" (func))
    (memory (export "memory") 1)
    (func (export "sluice_abi_version") (result i32) (i32.const 1))
    (func (export "sluice_alloc") (param i32) (result i32) (i32.const 0))
    (func (export "sluice_transform") (param i32 i32) (result i32) (i32.const 0))))")
                .find("imports env.clock"),
            std::string::npos);
  EXPECT_EQ(refusal(R"((module (memory (export "memory") 1)
    (func (export "sluice_abi_version") (result i32) (i32.const 1))
    (func (export "sluice_alloc") (param i32) (result i32) (i32.const 0))
    (func (export "sluice_transform") (param i32) (result i32) (i32.const 0))))"),
            "exports sluice_transform with another signature");
  const std::string garbage = "not wasm";
  auto m = TransformModule::compile(*engine, garbage);
  ASSERT_TRUE(std::holds_alternative<std::string>(m));
  EXPECT_NE(std::get<std::string>(m).find("does not compile"), std::string::npos);
}

TEST_F(TransformTest, TheVersionIsTheModulesSha256) {
  auto m = compile(module("(i32.const 0)"));
  ASSERT_TRUE(std::holds_alternative<TransformModulePtr>(m));
  const auto& mod = *std::get<TransformModulePtr>(m);
  EXPECT_EQ(mod.sha256().size(), 64u);
  EXPECT_EQ(mod.version(), std::string_view(mod.sha256()).substr(0, 16));
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace sluice

#include "pipeline/sink_transforms.h"
#include "pipeline/transform_stage.h"

namespace sluice {
namespace {

// How a transform's result becomes what each sink is sent.
class ApplyResultsTest : public TransformTest {
 protected:
  std::vector<std::string> names{"a", "b", "c"};
  const std::string version = "0123456789abcdef";
};

TEST_F(ApplyResultsTest, PipelineBodyHeadersAndRoutes) {
  TransformOutput out;
  out.body = "new";
  out.headers = {{"X-One", "1"}};
  out.routes = {"a", "c"};
  const auto applied = applyPipelineResult(out, version, names);
  ASSERT_FALSE(applied.failure);
  ASSERT_TRUE(applied.transforms);
  const auto& t = *applied.transforms;
  EXPECT_TRUE(t.body_set);
  EXPECT_EQ(t.body, "new");
  ASSERT_EQ(t.headers.size(), 2u);
  EXPECT_EQ(t.headers[1].first, "Sluice-Transform-Version");
  EXPECT_EQ(t.headers[1].second, version);
  EXPECT_FALSE(t.sinks[0].skip);
  EXPECT_TRUE(t.sinks[1].skip);
  EXPECT_FALSE(t.sinks[2].skip);
}

TEST_F(ApplyResultsTest, ADropReachesNoSinkAndAnUnknownRouteFails) {
  TransformOutput drop;
  drop.result = TransformOutput::Result::kDrop;
  auto applied = applyPipelineResult(drop, version, names);
  ASSERT_TRUE(applied.transforms);
  for (const auto& s : applied.transforms->sinks) EXPECT_TRUE(s.skip);

  TransformOutput routed;
  routed.routes = {"nowhere"};
  applied = applyPipelineResult(routed, version, names);
  ASSERT_TRUE(applied.failure);
  EXPECT_NE(applied.failure->find("\"nowhere\", which is no sink"), std::string::npos);

  TransformOutput failed;
  failed.result = TransformOutput::Result::kFail;
  failed.error = "boom";
  applied = applyPipelineResult(failed, version, names);
  ASSERT_TRUE(applied.failure);
  EXPECT_EQ(*applied.failure, "transform pipeline (" + version + "): boom");
}

TEST_F(ApplyResultsTest, ASinkTransformShapesItsDeliveryOrSkipsOrFailsIt) {
  Event plain;
  TransformOutput b;
  b.body = "for b";
  b.headers = {{"X-B", "yes"}};
  auto p = sinkPreparation(b, "b", "sinkversion", plain);
  EXPECT_EQ(p.kind, Dispatcher::Preparation::Kind::kSend);
  EXPECT_EQ(p.body, "for b");
  ASSERT_EQ(p.headers.size(), 2u);
  EXPECT_EQ(p.headers[1], (std::pair<std::string, std::string>("Sluice-Transform-Version",
                                                                "sinkversion")));
  // After a pipeline transform, the header names both versions.
  Event shaped;
  shaped.transforms = applyPipelineResult(TransformOutput{}, version, names).transforms;
  p = sinkPreparation(b, "b", "sinkversion", shaped);
  EXPECT_EQ(p.headers.back().second, version + ", sinkversion");

  TransformOutput drop;
  drop.result = TransformOutput::Result::kDrop;
  EXPECT_EQ(sinkPreparation(drop, "c", "v", plain).kind, Dispatcher::Preparation::Kind::kSkip);

  TransformOutput failed;
  failed.result = TransformOutput::Result::kFail;
  failed.error = "boom";
  p = sinkPreparation(failed, "b", "v", plain);
  EXPECT_EQ(p.kind, Dispatcher::Preparation::Kind::kFail);
  EXPECT_EQ(p.error, "transform of sink b (v): boom");
}

}  // namespace
}  // namespace sluice

#include <poll.h>

namespace sluice {
namespace {

// The pool runs jobs off the calling thread, in order per worker, with the set that is
// current when a job starts; a broken instance is made again for the next event.
class TransformPoolTest : public TransformTest {
 protected:
  TransformSetPtr setOf(const std::string& wat) {
    auto m = compile(wat);
    auto set = std::make_shared<TransformSet>();
    TransformSlot s;
    s.name = "pipeline";
    s.module = std::get<TransformModulePtr>(m);
    s.limits.time = std::chrono::milliseconds(100);
    set->pipeline = s;
    return set;
  }
  TransformJobPtr jobFor(std::int64_t offset, const std::string& body) {
    auto j = std::make_unique<TransformJob>();
    j->event = std::make_unique<Event>();
    j->event->partition = partition;
    j->event->offset = offset;
    j->event->body = bodies.emplace_back(body);
    return j;
  }
  std::vector<TransformJobPtr> collect(TransformPool& pool, std::size_t n) {
    std::vector<TransformJobPtr> out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      pollfd p{pool.fd(), POLLIN, 0};
      ::poll(&p, 1, 100);
      for (auto& j : pool.take()) out.push_back(std::move(j));
    }
    return out;
  }
  PartitionStatePtr partition = std::make_shared<PartitionState>("t", 0);
  std::deque<std::string> bodies;
};

TEST_F(TransformPoolTest, JobsComeBackInOrderAndANewSetAppliesToJobsNotYetStarted) {
  // Traps on a body of exactly 1 byte, else replaces the body with "v1" (or "v2").
  auto version = [&](const std::string& v) {
    return setOf(module(R"(
      (if (i32.eq (i32.load (i32.add (local.get $ev) (i32.const 44))) (i32.const 1))
        (then (unreachable)))
      (call $set_body (i32.const 16) (i32.const 2)) (i32.const 0))",
                        "(data (i32.const 16) \"" + v + "\")"));
  };
  TransformPool pool(*engine, 1);
  const auto v1 = version("v1");
  pool.publish(v1);
  pool.submit(0, jobFor(1, "{}"));
  pool.submit(0, jobFor(2, "x"));  // traps: the instance is made again
  pool.submit(0, jobFor(3, "{}"));
  auto first = collect(pool, 3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0]->event->offset, 1);
  EXPECT_EQ(first[0]->output->body, "v1");
  EXPECT_TRUE(first[1]->output->broken);
  EXPECT_EQ(first[2]->output->body, "v1");
  EXPECT_EQ(first[2]->set, v1);

  const auto v2 = version("v2");
  pool.publish(v2);
  pool.submit(0, jobFor(4, "{}"));
  auto second = collect(pool, 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0]->output->body, "v2");
  EXPECT_EQ(second[0]->set, v2);
}

TEST_F(TransformPoolTest, QueuedJobsCanBeWithdrawn) {
  // A slow transform keeps the one worker busy while more jobs queue behind it.
  const auto slow = setOf(module("(loop $l (br $l)) (i32.const 0)"));
  TransformPool pool(*engine, 1);
  pool.publish(slow);
  for (std::int64_t o = 0; o < 4; ++o) pool.submit(0, jobFor(o, "{}"));
  const auto withdrawn =
      pool.withdraw([](const TransformJob& j) { return j.event->offset >= 2; });
  EXPECT_EQ(withdrawn.size(), 2u);
  auto done = collect(pool, 2);
  ASSERT_EQ(done.size(), 2u);  // the other two ran (and ran out of time)
  for (const auto& j : done) EXPECT_NE(j->output->error.find("ran out of time"), std::string::npos);
}

}  // namespace
}  // namespace sluice

#include <filesystem>
#include <fstream>

#include "transform/transform_reloader.h"

namespace sluice {
namespace {

// The reload state machine with a fake compiler: a module "compiles" unless its file starts
// with "bad", and its version is the file's SHA-256.
class ReloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir);
    write("one");
    auto set = std::make_shared<TransformSet>();
    TransformSlot slot;
    slot.name = "pipeline";
    compileFake(file, slot, false);
    set->pipeline = slot;
    current = set;
    TransformReloader::Files files;
    files.pipeline = file;
    reloader = std::make_unique<TransformReloader>(
        files,
        [this](const std::string& f, TransformSlot& s, bool sink) {
          ++compiles;
          return compileFake(f, s, sink);
        },
        [this] { return current; },
        [this](TransformSetPtr s) {
          current = std::move(s);
          ++publishes;
        });
    reloader->observe([this](const TransformReloader::Outcome& o) { outcomes.push_back(o.result); });
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  void write(const std::string& content) { std::ofstream(file, std::ios::trunc) << content; }
  static std::string compileFake(const std::string& f, TransformSlot& slot, bool) {
    std::ifstream in(f);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.rfind("bad", 0) == 0) return "does not compile: " + content;
    slot.module = std::make_shared<const TransformModule>(WasmModulePtr(),
                                                          TransformModule::Exports{},
                                                          sha256Hex(content));
    return "";
  }
  // Waits for the compile to finish and lets the reloader act on it (as the loop does).
  void finish() {
    for (int i = 0; i < 500 && reloader->busy(); ++i) {
      pollfd p{reloader->fd(), POLLIN, 0};
      if (::poll(&p, 1, 10) > 0) reloader->serve();
    }
  }
  std::string version() const { return std::string(current->pipeline->module->version()); }

  std::filesystem::path dir = std::filesystem::temp_directory_path() / "sluice-reloader-test";
  std::string file = (dir / "t.wasm").string();
  TransformSetPtr current;
  std::unique_ptr<TransformReloader> reloader;
  int compiles = 0;
  int publishes = 0;
  std::vector<std::string> outcomes;
};

TEST_F(ReloaderTest, AChangedModuleIsPublishedAnUnchangedOneIsNot) {
  const std::string before = version();
  reloader->request("test");
  finish();
  EXPECT_EQ(publishes, 0);  // same bytes: nothing compiled, nothing published
  EXPECT_EQ(compiles, 0);
  EXPECT_EQ(outcomes, std::vector<std::string>{"unchanged"});
  write("two");
  reloader->request("test");
  finish();
  EXPECT_EQ(publishes, 1);
  EXPECT_NE(version(), before);
  EXPECT_EQ(version(), sha256Hex("two").substr(0, 16));
}

TEST_F(ReloaderTest, ABrokenModuleLeavesTheRunningVersion) {
  const TransformSetPtr before = current;
  write("bad bytes");
  reloader->request("test");
  finish();
  EXPECT_EQ(publishes, 0);
  EXPECT_EQ(current, before);
  EXPECT_EQ(outcomes, std::vector<std::string>{"failed"});
  write("three");  // fixed: the next reload goes through
  reloader->request("test");
  finish();
  EXPECT_EQ(publishes, 1);
  EXPECT_EQ(version(), sha256Hex("three").substr(0, 16));
}

TEST_F(ReloaderTest, ARequestDuringACompileRunsOnceMoreAfterIt) {
  write("four");
  reloader->request("first");
  write("five");
  reloader->request("second");  // pending while the first compiles
  finish();
  finish();
  EXPECT_EQ(version(), sha256Hex("five").substr(0, 16));
  EXPECT_GE(publishes, 1);
}

}  // namespace
}  // namespace sluice
