// The file source's seen-file log kept in the store: its files commit with the batch's rows, a
// rolled-back batch leaves its plan to replay, and a restart reads nothing twice.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "catch.hpp"
#include "isoflow/io.hpp"
#include "isoflow/store.hpp"
#include "isoflow/pipeline/store_seen_file_log.hpp"
#include "store/store_test_util.hpp"

using namespace isoflow;
using store_test::TempDir;
namespace fs = std::filesystem;

namespace {

void write_landing_file(const fs::path& file, std::int64_t first, int n) {
    fs::create_directories(file.parent_path());
    {
        std::ofstream out(file);
        for (int i = 0; i < n; ++i) out << "{\"id\": " << first + i << ", \"Amount\": " << (first + i) * 1.5 << "}\n";
    }
    fs::last_write_time(file, fs::file_time_type::clock::now() - std::chrono::seconds(10));
}

FileSourceOptions options_for(const fs::path& landing) {
    FileSourceOptions o;
    o.path = landing.string();
    o.format = FileFormat::json;
    o.infer_column_types = true;
    return o;
}

// Plans, reads and stores one batch; commits it unless told to fail midway.
std::optional<BatchPlan> run_batch(Store& store, FileSource& source, bool fail_midway = false) {
    auto plan = source.plan();
    if (!plan) return std::nullopt;
    SourceBatch batch = source.read(*plan);
    auto tx = store.transaction(plan->batch_id);
    tx.append("bronze", batch.data);
    if (fail_midway) throw std::runtime_error("crash before commit");
    source.commit(*plan);  // the seen files join the batch's transaction
    tx.commit();
    return plan;
}

std::multiset<std::int64_t> ids_in(const Store& store) {
    std::multiset<std::int64_t> ids;
    const Batch b = store.read_table("bronze");
    const auto& col = b.column("id");
    for (std::size_t r = 0; r < b.num_rows(); ++r) ids.insert(col.int64_values()[r]);
    return ids;
}

}  // namespace

TEST_CASE("StoreSeenFileLog implements the SeenFileLog contract", "[store][seen]") {
    TempDir dir;
    auto store = std::make_shared<SqliteStore>(dir / "st");
    StoreSeenFileLog log(store, "landing");
    CHECK(log.last_batch_id() == 0);
    CHECK_FALSE(log.pending_plan());
    const BatchPlan plan{1, {SourceFile{"/l/a \"q\".json", 10, 1'700'000'000'000'000'123}, SourceFile{"/l/b.json", 0, 5}}};
    log.save_plan(plan);
    REQUIRE(log.pending_plan());
    CHECK(*log.pending_plan() == plan);
    log.commit(plan);
    CHECK_FALSE(log.pending_plan());
    CHECK(log.last_batch_id() == 1);
    const auto a = log.find("/l/a \"q\".json");
    REQUIRE(a);
    CHECK(a->size == 10);
    CHECK(a->mtime_ns == 1'700'000'000'000'000'123);
    CHECK(a->batch_id == 1);
    CHECK_FALSE(log.find("/l/c.json"));
    Schema s;
    s.add(Field{"id", DataType::int64, true});
    log.save_schema(1, s);
    CHECK(log.latest_schema()->second == s);
    log.set_property("start_time_ns", "99");
    CHECK(log.property("start_time_ns") == std::string("99"));
    CHECK_FALSE(StoreSeenFileLog(store, "other").find("/l/b.json"));
}

TEST_CASE("FileSource with the log in the store: exactly once across a failed batch and restarts",
          "[store][seen]") {
    TempDir dir;
    const auto landing = dir / "landing";
    const auto storage = dir / "st";
    write_landing_file(landing / "a.json", 0, 3);
    write_landing_file(landing / "b.json", 3, 2);
    {
        auto store = std::make_shared<SqliteStore>(storage);
        FileSource source(options_for(landing), std::make_shared<StoreSeenFileLog>(store, "transactions"));
        const auto plan = run_batch(*store, source);
        REQUIRE(plan);
        CHECK(plan->files.size() == 2);
        CHECK_FALSE(run_batch(*store, source));  // nothing new
    }
    write_landing_file(landing / "c.json", 5, 4);
    BatchPlan failed;
    {
        // A restart; batch 2 fails after its rows were appended and before its commit.
        auto store = std::make_shared<SqliteStore>(storage);
        FileSource source(options_for(landing), std::make_shared<StoreSeenFileLog>(store, "transactions"));
        auto plan = source.plan();
        REQUIRE(plan);
        failed = *plan;
        CHECK(failed.batch_id == 2);
        REQUIRE(failed.files.size() == 1);
        CHECK(fs::path(failed.files[0].path).filename() == "c.json");
        REQUIRE_THROWS_AS(run_batch(*store, source, true), std::runtime_error);
        CHECK_FALSE(store->is_committed(2));
        CHECK_FALSE(store->find_seen_file("transactions", failed.files[0].path));
    }
    write_landing_file(landing / "d.json", 9, 1);
    {
        auto store = std::make_shared<SqliteStore>(storage);
        FileSource source(options_for(landing), std::make_shared<StoreSeenFileLog>(store, "transactions"));
        const auto replay = run_batch(*store, source);
        REQUIRE(replay);
        CHECK(*replay == failed);  // the same plan again, not one that includes d.json
        const auto next = run_batch(*store, source);
        REQUIRE(next);
        CHECK(next->batch_id == 3);
        CHECK(fs::path(next->files.at(0).path).filename() == "d.json");
        CHECK_FALSE(run_batch(*store, source));
        std::multiset<std::int64_t> expected;
        for (std::int64_t i = 0; i < 10; ++i) expected.insert(i);
        CHECK(ids_in(*store) == expected);
        CHECK(store->seen_file_count("transactions") == 4);
    }
}
