// Pipelines when things go wrong around them: a database kept busy by another connection
// (production mode retries, development mode fails fast), a full disk and a read-only file system
// under the storage, and tables written to sinks (CSV, JSON Lines, a callback) across a crash
// between the sink write and the store's commit.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#include <sys/mount.h>
#endif

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <isoflow/pipeline.hpp>

#include "store/store_test_util.hpp"
#include "forest/test_helpers.hpp"
#include "pipeline_test_util.hpp"

using namespace pipeline_test;

namespace {

// The pipeline definition of the other tests with extra top-level keys, and `sink` keys on the
// silver and gold tables when given.
std::string pipeline_with(const std::string& top_keys, const std::string& silver_action = "drop",
                          const std::string& silver_sink = "", const std::string& gold_sink = "") {
    std::string text = pipeline_json("", silver_action);
    if (!top_keys.empty()) text.replace(text.find("\"storage\": \"storage\","), 21, "\"storage\": \"storage\", " + top_keys + ",");
    if (!silver_sink.empty())
        text.replace(text.find("\"quality\": \"silver\","), 20, "\"quality\": \"silver\", \"sink\": " + silver_sink + ",");
    if (!gold_sink.empty())
        text.replace(text.find("\"quality\": \"gold\","), 18, "\"quality\": \"gold\", \"sink\": " + gold_sink + ",");
    return text;
}

// Another connection, as an `sqlite3` shell would be, that can hold the write lock.
class OtherConnection {
public:
    explicit OtherConnection(const fs::path& db) {
        if (sqlite3_open(db.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("test: cannot open " + db.string());
    }
    ~OtherConnection() { sqlite3_close(db_); }
    OtherConnection(const OtherConnection&) = delete;
    OtherConnection& operator=(const OtherConnection&) = delete;
    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string m = err ? err : "?";
            sqlite3_free(err);
            throw std::runtime_error(std::string("test: ") + sql + ": " + m);
        }
    }

private:
    sqlite3* db_ = nullptr;
};

// Holds the write lock of pipeline.db from another connection, from `hold()` until `hold_for`
// later (a thread releases it) or until destroyed.
class LockHolder {
public:
    explicit LockHolder(fs::path db) : db_(std::move(db)) {}
    ~LockHolder() { release(); }
    LockHolder(const LockHolder&) = delete;
    LockHolder& operator=(const LockHolder&) = delete;
    void hold(std::chrono::milliseconds hold_for) {
        connection_ = std::make_unique<OtherConnection>(db_);
        connection_->exec("BEGIN IMMEDIATE");
        ++holds_;
        releaser_ = std::thread([this, hold_for] {
            std::this_thread::sleep_for(hold_for);
            connection_->exec("ROLLBACK");
            released_ = true;
        });
    }
    void release() {
        if (releaser_.joinable()) releaser_.join();
        connection_.reset();
    }
    [[nodiscard]] int holds() const noexcept { return holds_; }
    [[nodiscard]] bool released() const noexcept { return released_.load(); }

private:
    fs::path db_;
    std::unique_ptr<OtherConnection> connection_;
    std::thread releaser_;
    int holds_ = 0;
    std::atomic<bool> released_{false};
};

struct CollectedRows {
    std::map<std::uint64_t, int> calls;  // batch id -> callback calls
    std::map<std::int64_t, int> ids;     // tx_id -> times seen
};

std::shared_ptr<isoflow::CallbackSink> collecting_sink(CollectedRows& into, std::function<void()> before = {}) {
    return std::make_shared<isoflow::CallbackSink>(
        [&into, before](const std::string&, std::uint64_t batch_id, const isoflow::Batch& rows) {
            if (before) before();
            ++into.calls[batch_id];
            for (auto id : rows.column("tx_id").int64_values()) ++into.ids[id];
        },
        [&into](const std::string&, std::uint64_t batch_id) { return into.calls.count(batch_id) > 0; });
}

std::size_t retry_events(isoflow::Store& store, bool busy_only) {
    std::size_t n = 0;
    for (const auto& e : store.events_after(0, 100000))
        if (e.event_type == "error" && contains(e.details, "\"retry\"") &&
            (!busy_only || contains(e.details, "\"busy\":true")))
            ++n;
    return n;
}

// Every id of `ids` in [0, n) once when `keep(id)`, else not at all.
void check_exactly_once(const std::map<std::int64_t, int>& ids, int n, const std::function<bool(int)>& keep) {
    int wrong = 0;
    for (int i = 0; i < n; ++i) {
        const auto it = ids.find(i);
        const int count = it == ids.end() ? 0 : it->second;
        if (count != (keep(i) ? 1 : 0)) {
            ++wrong;
            UNSCOPED_INFO("id " << i << " seen " << count << " times");
        }
    }
    CHECK(wrong == 0);
    CHECK(ids.size() <= static_cast<std::size_t>(n));
}

std::map<std::int64_t, int> count_ids(const std::vector<std::int64_t>& ids) {
    std::map<std::int64_t, int> out;
    for (auto id : ids) ++out[id];
    return out;
}

bool valid_row(int i) { return i % 7 != 3; }

// Every data line of every CSV file of a sink folder: the value of column tx_id.
std::map<std::int64_t, int> csv_ids(const fs::path& folder, std::size_t* files = nullptr) {
    std::map<std::int64_t, int> out;
    if (files) *files = 0;
    if (!fs::exists(folder)) return out;
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.path().extension() != ".csv") continue;
        if (files) ++*files;
        std::ifstream in(entry.path());
        std::string line;
        std::getline(in, line);
        REQUIRE(line.rfind("tx_id,", 0) == 0);  // the header, tx_id first as in the landing files
        while (std::getline(in, line)) ++out[std::stoll(line.substr(0, line.find(',')))];
    }
    return out;
}

std::map<std::int64_t, int> jsonl_ids(const fs::path& folder) {
    std::map<std::int64_t, int> out;
    if (!fs::exists(folder)) return out;
    for (const auto& entry : fs::directory_iterator(folder)) {
        REQUIRE(entry.path().extension() == ".jsonl");  // no temporary file left behind
        std::ifstream in(entry.path());
        std::string line;
        while (std::getline(in, line)) {
            const auto at = line.find("\"tx_id\": ");
            REQUIRE(at != std::string::npos);
            ++out[std::stoll(line.substr(at + 9))];
        }
    }
    return out;
}

}  // namespace

TEST_CASE("production mode retries a commit that meets a busy database and logs the retry", "[pipeline][retry]") {
    TempDir dir("pipeline_busy_production");
    write_model(dir.path() / "model.iforest");
    for (int f = 0; f < 5; ++f) write_landing_file(dir.path() / "landing", f, f * 10, 10);
    std::ofstream(dir / "pipeline.json") << pipeline_with(
        R"("mode": "production", "busy_timeout_ms": 20, "first_backoff_ms": 40, "max_attempts": 12)");
    auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
    // Just before the first batch's commit (the sink is written first), an sqlite3 shell takes the
    // write lock for 300 ms: the commit fails with store_busy_error, and the retries outlast it.
    LockHolder other(dir.path() / "storage" / "pipeline.db");
    CollectedRows gold;
    pipeline.attach_sink("scored", collecting_sink(gold, [&] {
                             if (other.holds() == 0) other.hold(std::chrono::milliseconds(300));
                         }));
    const auto summary = pipeline.run_once();
    other.release();
    CHECK(summary.batches == 2);
    CHECK(summary.input_rows == 50);
    check_exactly_once(count_ids(ids_of(pipeline.store(), "raw")), 50, [](int) { return true; });
    check_exactly_once(count_ids(ids_of(pipeline.store(), "clean")), 50, valid_row);
    check_exactly_once(gold.ids, 50, valid_row);
    CHECK(gold.calls == std::map<std::uint64_t, int>{{1, 1}, {2, 1}});  // the retry found batch 1 held
    CHECK(pipeline.store().is_committed(1));
    CHECK(pipeline.store().is_committed(2));
    CHECK(retry_events(pipeline.store(), true) >= 1);
    // The gold table went to the sink, not into pipeline.db.
    CHECK(!pipeline.store().table_schema("scored").has_value());
    bool completed = false;
    for (const auto& e : pipeline.store().events_after(0, 100000))
        completed = completed || (e.event_type == "update_progress" && contains(e.details, "COMPLETED"));
    CHECK(completed);
}

TEST_CASE("production mode rides out a database held busy from the start", "[pipeline][retry]") {
    TempDir dir("pipeline_busy_start");
    write_model(dir.path() / "model.iforest");
    for (int f = 0; f < 4; ++f) write_landing_file(dir.path() / "landing", f, f * 10, 10);
    std::ofstream(dir / "pipeline.json") << pipeline_with(
        R"("mode": "production", "busy_timeout_ms": 10, "first_backoff_ms": 40, "max_attempts": 12)");
    auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
    LockHolder other(dir.path() / "storage" / "pipeline.db");
    other.hold(std::chrono::milliseconds(250));  // before the run logs anything
    const auto summary = pipeline.run_once();
    other.release();
    CHECK(summary.batches == 2);
    check_exactly_once(count_ids(ids_of(pipeline.store(), "raw")), 40, [](int) { return true; });
    check_exactly_once(count_ids(ids_of(pipeline.store(), "scored")), 40, valid_row);
    CHECK(retry_events(pipeline.store(), true) >= 1);
    // The events that met the busy database were written later, in order.
    const auto events = pipeline.store().events_after(0, 100000);
    REQUIRE(!events.empty());
    CHECK(events.front().event_type == "create_update");
    for (std::size_t i = 1; i < events.size(); ++i) CHECK(events[i - 1].timestamp <= events[i].timestamp);
}

TEST_CASE("development mode fails fast on a busy database and commits nothing", "[pipeline][retry]") {
    TempDir dir("pipeline_busy_development");
    write_model(dir.path() / "model.iforest");
    for (int f = 0; f < 2; ++f) write_landing_file(dir.path() / "landing", f, f * 10, 10);
    std::ofstream(dir / "pipeline.json") << pipeline_with(R"("busy_timeout_ms": 20)");
    auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
    LockHolder other(dir.path() / "storage" / "pipeline.db");
    CollectedRows gold;
    pipeline.attach_sink("scored", collecting_sink(gold, [&] {
                             if (other.holds() == 0) other.hold(std::chrono::milliseconds(1000));
                         }));
    std::string message;
    bool still_held = false;
    try {
        (void)pipeline.run_once();
        FAIL("the run must fail while another connection holds the database");
    } catch (const isoflow::store_busy_error& e) {
        message = e.what();
        still_held = !other.released();
    }
    other.release();
    INFO(message);
    CHECK(contains(message, "busy"));
    CHECK(contains(message, "pipeline.db"));
    // It failed while the lock was still held: no retry waited for it.
    CHECK(still_held);
    CHECK(!pipeline.store().last_committed_batch().has_value());
    for (const auto& t : pipeline.store().row_counts()) CHECK(t.rows == 0);
    CHECK(retry_events(pipeline.store(), false) == 0);
    // Released, the same object replays the batch: the sink already holds it, the store gets it once.
    CHECK(pipeline.run_once().batches == 1);
    check_exactly_once(count_ids(ids_of(pipeline.store(), "raw")), 20, [](int) { return true; });
    check_exactly_once(gold.ids, 20, valid_row);
    CHECK(gold.calls == std::map<std::uint64_t, int>{{1, 1}});
}

TEST_CASE("production mode never retries an expectation failure", "[pipeline][retry]") {
    TempDir dir("pipeline_fail_production");
    write_model(dir.path() / "model.iforest");
    write_landing_file(dir.path() / "landing", 0, 0, 10);  // row 3 violates
    std::ofstream(dir / "pipeline.json")
        << pipeline_with(R"("mode": "production", "first_backoff_ms": 5, "max_attempts": 5)", "fail");
    auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
    REQUIRE_THROWS_AS(pipeline.run_once(), isoflow::expectation_violation);
    CHECK(retry_events(pipeline.store(), false) == 0);
    CHECK(!pipeline.store().last_committed_batch().has_value());
    std::size_t errors = 0;
    for (const auto& e : pipeline.store().events_after(0, 100000))
        errors += e.event_type == "error" && contains(e.message, "valid");
    CHECK(errors == 1);
}

#if defined(__linux__)
namespace {

// In a child: a private mount namespace with a small tmpfs at `where`; false when not permitted.
bool mount_small_tmpfs(const fs::path& where, const char* options) {
    if (::unshare(CLONE_NEWNS) != 0) return false;
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    return ::mount("tmpfs", where.c_str(), "tmpfs", 0, options) == 0;
}

using store_test::in_child;  // runs a body in a forked child, returns its exit status

void write_text(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

}  // namespace

TEST_CASE("a full disk under the storage fails the batch with a clear error and commits nothing", "[pipeline][storage]") {
    TempDir dir("pipeline_full");
    write_model(dir.path() / "model.iforest");
    const fs::path mnt = dir.path() / "mnt";
    fs::create_directories(mnt);
    write_landing_file(dir.path() / "landing", 0, 0, 20);
    write_landing_file(dir.path() / "landing", 1, 20, 50000);  // far more than the tmpfs holds
    std::string text = pipeline_json();
    text.replace(text.find("\"storage\": \"storage\""), 20, "\"storage\": \"" + (mnt / "storage").string() + "\"");
    text.replace(text.find("\"max_files_per_trigger\": 3"), 26, "\"max_files_per_trigger\": 1");
    std::ofstream(dir / "pipeline.json") << text;
    const fs::path message_file = dir.path() / "message.txt";
    const int status = in_child([&] {
        if (!mount_small_tmpfs(mnt, "size=6m")) return 3;
        auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
        try {
            (void)pipeline.run_once();
            return 1;
        } catch (const isoflow::io_error& e) {
            write_text(message_file, e.what());
        }
        // The first file's batch committed; the big one did not, in no table.
        auto& store = pipeline.store();
        if (store.in_batch()) return 4;
        if (store.last_committed_batch() != std::optional<std::uint64_t>(1)) return 5;
        for (const auto& t : store.row_counts())
            if (t.rows != (t.table == "raw" ? 20u : 17u)) return 6;
        return 0;
    });
    if (status == 3) {
        std::printf("SKIPPED: not permitted to mount a small tmpfs here (unshare/mount need root)\n");
        return;
    }
    const std::string message = isoflow_test::slurp(message_file);
    INFO(message);
    CHECK(status == 0);
    CHECK(contains(message, "disk full"));
    CHECK(contains(message, (mnt / "storage" / "pipeline.db").string()));
}

TEST_CASE("read-only storage (a file system remounted read-only) is a clear error", "[pipeline][storage]") {
    TempDir dir("pipeline_readonly");
    write_model(dir.path() / "model.iforest");
    const fs::path mnt = dir.path() / "mnt";
    fs::create_directories(mnt);
    write_landing_file(dir.path() / "landing", 0, 0, 10);
    std::string text = pipeline_json();
    text.replace(text.find("\"storage\": \"storage\""), 20, "\"storage\": \"" + (mnt / "storage").string() + "\"");
    std::ofstream(dir / "pipeline.json") << text;
    const fs::path message_file = dir.path() / "message.txt";
    const int status = in_child([&] {
        if (!mount_small_tmpfs(mnt, "size=8m")) return 3;
        { (void)isoflow::Pipeline::from_file(dir / "pipeline.json").run_once(); }
        write_landing_file(dir.path() / "landing", 1, 10, 10);
        if (::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=8m") != 0) return 3;
        try {
            (void)isoflow::Pipeline::from_file(dir / "pipeline.json").run_once();
            return 1;
        } catch (const isoflow::io_error& e) {
            write_text(message_file, e.what());
        }
        isoflow::SqliteStoreOptions ro;
        ro.read_only = true;
        isoflow::SqliteStore reader(mnt / "storage", ro);  // `isoflow status` still works
        if (reader.last_committed_batch() != std::optional<std::uint64_t>(1)) return 4;
        for (const auto& t : reader.row_counts())
            if (t.rows != (t.table == "raw" ? 10u : 9u)) return 5;
        return 0;
    });
    if (status == 3) {
        std::printf("SKIPPED: not permitted to mount a read-only tmpfs here (unshare/mount need root)\n");
        return;
    }
    const std::string message = isoflow_test::slurp(message_file);
    INFO(message);
    CHECK(status == 0);
    CHECK(contains(message, "read-only"));
    CHECK(contains(message, (mnt / "storage").string()));
}
#endif

TEST_CASE("tables written as CSV and JSON Lines files, one per batch, with quarantine rows", "[pipeline][sinks]") {
    TempDir dir("pipeline_file_sinks");
    write_model(dir.path() / "model.iforest");
    for (int f = 0; f < 5; ++f) write_landing_file(dir.path() / "landing", f, f * 10, 10);
    std::ofstream(dir / "pipeline.json") << pipeline_with("", "quarantine", R"({"format": "csv", "path": "out"})",
                                                          R"({"format": "jsonl", "path": "out"})");
    const auto r = run_command(cli() + " run " + quote(dir / "pipeline.json") + " --once", dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const fs::path out = dir.path() / "out";
    std::size_t files = 0;
    check_exactly_once(csv_ids(out / "clean", &files), 50, valid_row);
    CHECK(files == 2);  // two batches
    CHECK(fs::exists(out / "clean" / "clean-00000000000000000001.csv"));
    check_exactly_once(csv_ids(out / "clean_quarantine"), 50, [](int i) { return !valid_row(i); });
    check_exactly_once(jsonl_ids(out / "scored"), 50, valid_row);
    isoflow::SqliteStoreOptions options;
    options.read_only = true;
    isoflow::SqliteStore store(dir.path() / "storage", options);
    check_exactly_once(count_ids(ids_of(store, "raw")), 50, [](int) { return true; });
    CHECK(!store.table_schema("clean").has_value());
    CHECK(!store.table_schema("scored").has_value());
    CHECK(store.is_committed(2));
    CHECK(contains(store.batch(1)->metrics, "\"sink\":"));
    // `isoflow status` counts the rows of the tables written as files too.
    int valid = 0;
    for (int i = 0; i < 50; ++i) valid += valid_row(i) ? 1 : 0;
    const auto status = run_command(cli() + " status " + quote(dir / "pipeline.json"), dir);
    INFO(status.out);
    REQUIRE(status.status == 0);
    CHECK(contains(status.out, "tables outside pipeline.db:"));
    CHECK(contains(status.out, std::to_string(valid) + " rows in 2 CSV files under " + (out / "clean").string()));
    CHECK(contains(status.out, std::to_string(50 - valid) + " rows in 2 CSV files under " +
                                   (out / "clean_quarantine").string()));
    CHECK(contains(status.out, std::to_string(valid) + " rows in 2 JSON Lines files under " + (out / "scored").string()));
}

TEST_CASE("a crash between the sink write and the commit: the replay writes no sink row twice", "[pipeline][sinks]") {
    TempDir dir("pipeline_sink_crash");
    write_model(dir.path() / "model.iforest");
    for (int f = 0; f < 5; ++f) write_landing_file(dir.path() / "landing", f, f * 10, 10);
    std::ofstream(dir / "pipeline.json") << pipeline_with("", "drop", R"({"format": "csv", "path": "out"})");
    const fs::path first_file = dir.path() / "out" / "clean" / "clean-00000000000000000001.csv";
    // A child process whose gold sink kills it: silver's file of batch 1 is published, the store's
    // commit never happens.
    std::fflush(nullptr);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        try {
            auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
            pipeline.attach_sink("scored", std::make_shared<isoflow::CallbackSink>(
                                               [](const std::string&, std::uint64_t, const isoflow::Batch&) {
                                                   ::raise(SIGKILL);
                                               }));
            (void)pipeline.run_once();
        } catch (...) {
        }
        ::_exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(fs::exists(first_file));
    const std::string written_before = isoflow_test::slurp(first_file);
    {
        isoflow::SqliteStoreOptions options;
        options.read_only = true;
        isoflow::SqliteStore store(dir.path() / "storage", options);
        CHECK(!store.last_committed_batch().has_value());
        REQUIRE(store.pending_batch().has_value());
    }
    // The restart replays batch 1 with the same files: silver's file is kept, not written again.
    CollectedRows gold;
    {
        auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
        pipeline.attach_sink("scored", collecting_sink(gold));
        CHECK(pipeline.run_once().batches == 2);
        check_exactly_once(count_ids(ids_of(pipeline.store(), "raw")), 50, [](int) { return true; });
        CHECK(contains(pipeline.store().batch(1)->metrics, "\"sink_already_held\":true"));
        CHECK(contains(pipeline.store().batch(2)->metrics, "\"sink_already_held\":false"));
    }
    CHECK(isoflow_test::slurp(first_file) == written_before);
    check_exactly_once(csv_ids(dir.path() / "out" / "clean"), 50, valid_row);
    check_exactly_once(gold.ids, 50, valid_row);
    CHECK(gold.calls == std::map<std::uint64_t, int>{{1, 1}, {2, 1}});
    // A full refresh starts batch ids again at 1: it empties the sink folder, so nothing is skipped.
    auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
    pipeline.full_refresh();
    CHECK(!fs::exists(first_file));
    CHECK(pipeline.run_once().input_rows == 50);
    check_exactly_once(csv_ids(dir.path() / "out" / "clean"), 50, valid_row);
}

TEST_CASE("sink definitions: mistakes are clear errors", "[pipeline][sinks][config]") {
    TempDir dir("pipeline_sink_config");
    write_model(dir.path() / "model.iforest");
    auto error_for = [&](const std::string& text) {
        std::ofstream(dir / "p.json") << text;
        return message_of([&] { (void)isoflow::Pipeline::from_file(dir / "p.json"); });
    };
    std::string m = error_for(pipeline_with("", "drop", R"({"format": "parquet", "path": "out"})"));
    CHECK(contains(m, "tables[1].sink.format: expected \"csv\" or \"jsonl\""));
    CHECK(contains(m, "p.json:"));
    m = error_for(pipeline_with("", "drop", R"({"format": "csv"})"));
    CHECK(contains(m, "tables[1].sink: missing key \"path\""));
    m = error_for(pipeline_with("", "drop", R"({"format": "csv", "path": "out", "compress": true})"));
    CHECK(contains(m, "unknown key \"compress\""));
    std::string text = pipeline_with("", "drop", R"({"format": "csv", "path": "out"})");
    text.replace(text.find("\"quality\": \"silver\","), 20, "\"quality\": \"silver\", \"stored\": false,");
    m = error_for(text);
    CHECK(contains(m, "table 'clean' has a sink and \"stored\": false"));
    m = error_for(pipeline_with(R"("busy_timeout_ms": -1)"));
    CHECK(contains(m, "busy_timeout_ms: expected 0 or more"));
    std::ofstream(dir / "ok.json") << pipeline_json();
    auto pipeline = isoflow::Pipeline::from_file(dir / "ok.json");
    m = message_of([&] { pipeline.attach_sink("nope", std::make_shared<isoflow::CsvSink>(dir.path() / "o")); });
    CHECK(contains(m, "no table 'nope'"));
}
