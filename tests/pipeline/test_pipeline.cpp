// Pipelines: definitions and their errors, bronze -> silver -> gold runs, exactly once across
// SIGKILL, expectations that fail, the event log, and storage faults.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <isoflow/pipeline.hpp>

#include "forest/test_helpers.hpp"
#include "pipeline_test_util.hpp"

using namespace pipeline_test;


TEST_CASE("pipeline definitions: every mistake is a clear error before anything runs", "[pipeline][config]") {
    TempDir dir("pipeline_config");
    write_model(dir.path() / "model.iforest");
    auto error_for = [&](const std::string& text) {
        std::ofstream(dir / "p.json") << text;
        return message_of([&] { (void)isoflow::Pipeline::from_file(dir / "p.json"); });
    };
    std::string m = error_for(R"({"name": "x", "storage": "s", "colour": 1, "sources": {}, "tables": []})");
    CHECK(contains(m, "p.json:1:"));
    CHECK(contains(m, "unknown key \"colour\""));
    m = error_for(R"({"name": "x", "storage": "s",
  "sources": {"a": {"path": "in", "formta": "json"}}, "tables": [{"name": "t", "from": "a"}]})");
    CHECK(contains(m, "p.json:2:"));
    CHECK(contains(m, "unknown key \"formta\" in sources.a"));
    m = error_for(R"({"name": "x", "storage": "s", "sources": {"a": {"path": "in"}},
  "tables": [{"name": "t", "from": "b"}]})");
    CHECK(contains(m, "table 't' reads from 'b', which is neither a source nor a table"));
    m = error_for(R"({"name": "x", "storage": "s", "sources": {"a": {"path": "in"}},
  "tables": [{"name": "t", "from": "u"}, {"name": "u", "from": "t"}]})");
    CHECK(contains(m, "cycle"));
    m = error_for(R"({"name": "x", "storage": "s", "sources": {"a": {"path": "in"}},
  "tables": [{"name": "t", "from": "a"}, {"name": "T", "from": "a"}]})");
    CHECK(contains(m, "used twice"));
    m = error_for(R"({"name": "x", "storage": "s", "sources": {"a": {"path": "in"}},
  "tables": [{"name": "t", "from": "a", "expectations": [{"name": "e", "constraint": "x > 1", "on_violation": "explode"}]}]})");
    CHECK(contains(m, "expected warn, drop, fail or quarantine"));
    m = error_for(R"({"name": "x", "storage": "s", "sources": {"a": {"path": "in"}},
  "tables": [{"name": "t", "from": "a", "score": {"model": "missing.iforest"}}]})");
    CHECK(contains(m, "missing.iforest"));
    m = error_for(R"({"name": "x", "storage": "s", "sources": {"a": {"path": "in", "format": "xml"}},
  "tables": [{"name": "t", "from": "a"}]})");
    CHECK(contains(m, "expected \"json\" or \"csv\""));
    m = error_for("{\"name\": \"x\",");
    CHECK(contains(m, "p.json:1:"));
}

TEST_CASE("a triggered run: bronze keeps every row, silver drops invalid ones, gold scores", "[pipeline][run]") {
    TempDir dir("pipeline_run");
    write_model(dir.path() / "model.iforest");
    for (int f = 0; f < 7; ++f) write_landing_file(dir.path() / "landing", f, f * 10, 10);
    std::ofstream(dir / "pipeline.json") << pipeline_json();
    {
        auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
        const auto summary = pipeline.run_once();
        CHECK(summary.batches == 3);  // 7 files, at most 3 per trigger
        CHECK(summary.input_rows == 70);
        auto raw = ids_of(pipeline.store(), "raw");
        auto clean = ids_of(pipeline.store(), "clean");
        auto scored = ids_of(pipeline.store(), "scored");
        std::sort(raw.begin(), raw.end());
        REQUIRE(raw.size() == 70);
        for (int i = 0; i < 70; ++i) CHECK(raw[static_cast<std::size_t>(i)] == i);
        std::set<std::int64_t> expected_clean;
        for (int i = 0; i < 70; ++i)
            if (i % 7 != 3) expected_clean.insert(i);
        CHECK(std::set<std::int64_t>(clean.begin(), clean.end()) == expected_clean);
        CHECK(clean.size() == expected_clean.size());
        CHECK(std::set<std::int64_t>(scored.begin(), scored.end()) == expected_clean);
        const auto gold = pipeline.store().read_table("scored");
        CHECK(gold.num_columns() == 5);
        for (std::size_t r = 0; r < gold.num_rows(); ++r) {
            const double s = gold.column("anomaly_score").double_values()[r];
            CHECK(s > 0.0);
            CHECK(s <= 1.0);
            CHECK(gold.column("is_anomaly").bool_values()[r] == (s > 0.5));
        }
        const auto totals = pipeline.expectation_totals();
        REQUIRE(totals.size() == 1);
        CHECK(totals[0].dropped_records == 10);
        CHECK(totals[0].expectations[0].failed_records == 10);
        CHECK(totals[0].expectations[0].passed_records == 60);
        // Nothing new: a second run does nothing.
        CHECK(pipeline.run_once().batches == 0);
    }
    // A new process sees the same, and picks up only new files.
    write_landing_file(dir.path() / "landing", 7, 70, 10);
    auto again = isoflow::Pipeline::from_file(dir / "pipeline.json");
    CHECK(again.run_once().input_rows == 10);
    CHECK(ids_of(again.store(), "raw").size() == 80);
    // The event log has DLT's event types.
    std::set<std::string> types;
    for (const auto& e : again.store().events_after(0, 100000)) types.insert(e.event_type);
    CHECK(types.count("create_update"));
    CHECK(types.count("update_progress"));
    CHECK(types.count("flow_progress"));
    // Full refresh reprocesses everything once.
    again.full_refresh();
    CHECK(again.run_once().input_rows == 80);
    CHECK(ids_of(again.store(), "raw").size() == 80);
}

TEST_CASE("a second process on the same storage is refused", "[pipeline][run]") {
    TempDir dir("pipeline_lock");
    write_model(dir.path() / "model.iforest");
    std::ofstream(dir / "pipeline.json") << pipeline_json();
    auto first = isoflow::Pipeline::from_file(dir / "pipeline.json");
    const auto r = run_command(cli() + " run " + quote(dir / "pipeline.json") + " --once", dir);
    CHECK(r.status == 1);
    INFO(r.err);
    CHECK(contains(r.err, "storage"));
}

TEST_CASE("expect_or_fail rolls the whole batch back and names the row", "[pipeline][expectations]") {
    TempDir dir("pipeline_fail");
    write_model(dir.path() / "model.iforest");
    write_landing_file(dir.path() / "landing", 0, 0, 10);  // row 3 violates
    std::ofstream(dir / "pipeline.json") << pipeline_json("", "fail");
    const auto r = run_command(cli() + " run " + quote(dir / "pipeline.json") + " --once", dir);
    CHECK(r.status == 1);
    INFO(r.err);
    CHECK(contains(r.err, "valid"));
    CHECK(contains(r.err, "f100000.json"));
    isoflow::SqliteStoreOptions options;
    options.read_only = true;
    isoflow::SqliteStore store(dir.path() / "storage", options);
    for (const auto& t : store.row_counts()) CHECK(t.rows == 0);
    CHECK(!store.last_committed_batch().has_value());
    bool logged = false;
    for (const auto& e : store.events_after(0, 100000))
        logged = logged || (e.event_type == "error" && contains(e.message, "valid"));
    CHECK(logged);
}

TEST_CASE("quarantine tables and unstored tables", "[pipeline][expectations]") {
    TempDir dir("pipeline_quarantine");
    write_model(dir.path() / "model.iforest");
    write_landing_file(dir.path() / "landing", 0, 0, 14);
    std::string text = pipeline_json("", "quarantine");
    text.replace(text.find("\"quality\": \"bronze\"}"), 20, "\"quality\": \"bronze\", \"stored\": false}");
    std::ofstream(dir / "pipeline.json") << text;
    auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
    pipeline.run_once();
    CHECK(!pipeline.store().table_schema("raw").has_value());
    CHECK(ids_of(pipeline.store(), "clean").size() == 12);
    const auto q = pipeline.store().read_table("clean_quarantine");
    REQUIRE(q.num_rows() == 2);
    CHECK(contains(std::string(q.column("_failed_expectations").string_at(0)), "valid"));
}

TEST_CASE("exactly once: SIGKILL at random moments across restarts while files arrive", "[pipeline][crash]") {
    TempDir dir("pipeline_kill");
    write_model(dir.path() / "model.iforest");
    std::ofstream(dir / "pipeline.json") << pipeline_json();
    std::mt19937 rng(2024);
    int next_file = 0, next_id = 0;
    constexpr int restarts = 24;
    int killed_mid_batch = 0;  // kills that left a planned, uncommitted batch to replay
    for (int round = 0; round < restarts; ++round) {
        // Files arrive between and during runs.
        for (int k = 0; k < 3; ++k) {
            write_landing_file(dir.path() / "landing", next_file++, next_id, 25);
            next_id += 25;
        }
        const pid_t child = fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            const std::string p = (dir.path() / "pipeline.json").string();
            const int null = ::open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            execl(ISOFLOW_CLI, ISOFLOW_CLI, "run", p.c_str(), "--continuous", static_cast<char*>(nullptr));
            _exit(127);
        }
        std::uniform_int_distribution<int> delay(1, 60);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay(rng)));
        // Every third round a larger file arrives, and the kill waits until a batch is planned
        // and not yet committed, so that some kills surely land inside a batch; the others land
        // wherever the random delay puts them.
        const bool aim_mid_batch = round % 3 == 2;
        const int rows = aim_mid_batch ? 20'000 : 25;
        write_landing_file(dir.path() / "landing", next_file++, next_id, rows);
        next_id += rows;
        if (aim_mid_batch) {
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
            bool planned = false;
            while (!planned && std::chrono::steady_clock::now() < until) {
                try {
                    isoflow::SqliteStoreOptions options;
                    options.read_only = true;
                    isoflow::SqliteStore store(dir.path() / "storage", options);
                    const auto newest = store.last_batches(1);
                    planned = !newest.empty() && newest.front().state == isoflow::BatchState::planned &&
                              contains(newest.front().plan, "f" + std::to_string(100000 + next_file - 1) + ".json");
                } catch (const isoflow::error&) {
                }
                if (!planned) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(delay(rng)));
        }
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        CHECK(WIFSIGNALED(status));
        try {
            isoflow::SqliteStoreOptions options;
            options.read_only = true;
            isoflow::SqliteStore store(dir.path() / "storage", options);
            const auto newest = store.last_batches(1);
            killed_mid_batch += !newest.empty() && newest.front().state == isoflow::BatchState::planned;
        } catch (const isoflow::error&) {
            // killed before the storage was made
        }
    }
    // Otherwise the test would pass without a crash having hit a batch.
    CHECK(killed_mid_batch >= restarts / 3 / 2);
    // Finally a clean run to the end.
    const auto r = run_command(cli() + " run " + quote(dir / "pipeline.json") + " --once", dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    isoflow::SqliteStoreOptions options;
    options.read_only = true;
    isoflow::SqliteStore store(dir.path() / "storage", options);
    for (const auto& b : store.last_batches(1000)) CHECK(b.state == isoflow::BatchState::committed);
    for (const std::string table : {"raw", "clean", "scored"}) {
        INFO("table " << table);
        std::map<std::int64_t, int> seen;
        for (auto id : ids_of(store, table)) ++seen[id];
        int duplicates = 0, missing = 0;
        for (int i = 0; i < next_id; ++i) {
            const bool kept = table == "raw" || i % 7 != 3;
            const int count = seen.count(i) ? seen[i] : 0;
            duplicates += count > 1;
            missing += kept && count == 0;
            CHECK(count == (kept ? 1 : 0));
        }
        CHECK(duplicates == 0);
        CHECK(missing == 0);
    }
}

TEST_CASE("continuous mode picks up new files and SIGTERM exits 0 after the current batch", "[pipeline][run]") {
    TempDir dir("pipeline_continuous");
    write_model(dir.path() / "model.iforest");
    std::ofstream(dir / "pipeline.json") << pipeline_json();
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const std::string p = (dir.path() / "pipeline.json").string();
        const int null = ::open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(ISOFLOW_CLI, ISOFLOW_CLI, "run", p.c_str(), "--continuous", static_cast<char*>(nullptr));
        _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    write_landing_file(dir.path() / "landing", 0, 0, 5);
    // Wait (bounded) until the row is committed, reading through a read-only connection.
    bool committed = false;
    for (int i = 0; i < 200 && !committed; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        try {
            isoflow::SqliteStoreOptions options;
            options.read_only = true;
            isoflow::SqliteStore store(dir.path() / "storage", options);
            committed = store.table_schema("scored").has_value() && ids_of(store, "scored").size() == 4;
        } catch (const isoflow::error&) {
        }
    }
    CHECK(committed);
    kill(child, SIGTERM);
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a corrupt database file is a clear error naming it", "[pipeline][storage]") {
    TempDir dir("pipeline_corrupt");
    write_model(dir.path() / "model.iforest");
    std::ofstream(dir / "pipeline.json") << pipeline_json();
    fs::create_directories(dir.path() / "storage");
    std::ofstream(dir.path() / "storage" / "pipeline.db") << std::string(8192, 'x');
    const std::string m = message_of([&] { (void)isoflow::Pipeline::from_file(dir / "pipeline.json"); });
    CHECK(contains(m, "pipeline.db"));
}

TEST_CASE("a missing feature column is an error at start that names it", "[pipeline][config]") {
    TempDir dir("pipeline_feature");
    write_model(dir.path() / "model.iforest");
    fs::create_directories(dir.path() / "landing");
    std::ofstream(dir.path() / "landing" / "a.json") << "{\"tx_id\": 1, \"V1\": 0.5, \"Amount\": 3, \"Time\": 1}\n";
    std::string text = pipeline_json();
    text.replace(text.find(" V2 DOUBLE,"), 11, "");  // V2 is neither in the data nor in the hints
    std::ofstream(dir / "pipeline.json") << text;
    auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
    const std::string m = message_of([&] { pipeline.run_once(); });
    CHECK(contains(m, "'V2'"));
    CHECK(contains(m, "scored"));
}

TEST_CASE("a null feature value never crashes scoring, the row is counted", "[pipeline][run]") {
    TempDir dir("pipeline_null_feature");
    write_model(dir.path() / "model.iforest");
    fs::create_directories(dir.path() / "landing");
    std::ofstream(dir.path() / "landing" / "a.json")
        << "{\"tx_id\": 1, \"V1\": 0.5, \"V2\": null, \"Amount\": 3, \"Time\": 1}\n"
        << "{\"tx_id\": 2, \"V1\": 0.5, \"V2\": 0.1, \"Amount\": 3, \"Time\": 2}\n";
    std::ofstream(dir / "pipeline.json") << pipeline_json();
    auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
    pipeline.run_once();
    CHECK(ids_of(pipeline.store(), "scored").size() == 2);
    const auto last = pipeline.store().last_batches(1);
    REQUIRE(last.size() == 1);
    CHECK(contains(last[0].metrics, "\"scored\":{\"num_input_rows\":2,\"num_output_rows\":2,\"rows_with_missing_features\":1"));
}

TEST_CASE("generate --landing in every format feeds the pipeline, status and events print", "[pipeline][cli]") {
    TempDir dir("pipeline_formats");
    write_model(dir.path() / "model.iforest");
    for (const std::string format : {"json", "jsonl", "pydict", "csv"}) {
        INFO("format " << format);
        const fs::path work = dir.path() / format;
        fs::create_directories(work);
        fs::copy_file(dir.path() / "model.iforest", work / "model.iforest");
        const bool one_per_file = format == "json" || format == "pydict";
        auto r = run_command(cli() + " generate --landing " + quote((work / "landing").string()) + " --rows 40" +
                                 (one_per_file ? "" : " --rows-per-file 15") + " --seed 3 --null-rate 0.2 --format " + format,
                             dir);
        INFO(r.err);
        REQUIRE(r.status == 0);
        std::size_t files = 0;
        for (const auto& entry : fs::directory_iterator(work / "landing")) {
            CHECK(entry.path().filename().string()[0] != '.');  // no temporary file left behind
            ++files;
        }
        CHECK(files == (format == "json" || format == "pydict" ? 40u : 3u));
        CHECK(fs::exists(work / "landing_labels.csv"));
        std::string text = pipeline_json();
        if (format == "csv") text.replace(text.find("\"format\": \"json\""), 16, "\"format\": \"csv\"");
        std::ofstream(work / "pipeline.json") << text;
        r = run_command(cli() + " run " + quote((work / "pipeline.json").string()) + " --once", dir);
        INFO(r.err);
        REQUIRE(r.status == 0);
        isoflow::SqliteStoreOptions options;
        options.read_only = true;
        isoflow::SqliteStore store(work / "storage", options);
        auto raw = ids_of(store, "raw");
        std::sort(raw.begin(), raw.end());
        REQUIRE(raw.size() == 40);
        for (int i = 0; i < 40; ++i) CHECK(raw[static_cast<std::size_t>(i)] == i);
        const auto bronze = store.read_table("raw");
        CHECK(bronze.find_column("timestamp").has_value());
        CHECK(!bronze.find_column("label").has_value());
        r = run_command(cli() + " status " + quote((work / "pipeline.json").string()), dir);
        CHECK(r.status == 0);
        CHECK(contains(r.out, "raw"));
        CHECK(contains(r.out, "40 rows"));
        r = run_command(cli() + " events " + quote((work / "pipeline.json").string()), dir);
        CHECK(r.status == 0);
        CHECK(contains(r.out, "create_update"));
        CHECK(contains(r.out, "flow_progress"));
        CHECK(contains(r.out, "COMPLETED"));
    }
}

TEST_CASE("schema evolution adds columns to the tables and logs a schema_change event", "[pipeline][schema]") {
    TempDir dir("pipeline_evolution");
    write_model(dir.path() / "model.iforest");
    write_landing_file(dir.path() / "landing", 0, 0, 5);
    std::ofstream(dir / "pipeline.json") << pipeline_json();
    {
        auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
        pipeline.run_once();
    }
    std::ofstream(dir.path() / "landing" / "late.json")
        << "{\"tx_id\": 100, \"V1\": 0.1, \"V2\": 0.2, \"Amount\": 5, \"Time\": 9, \"merchant\": \"shop\"}\n";
    auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
    pipeline.run_once();
    const auto raw = pipeline.store().read_table("raw");
    REQUIRE(raw.find_column("merchant").has_value());
    const auto& merchant = raw.column("merchant");
    std::size_t shops = 0;
    for (std::size_t r = 0; r < raw.num_rows(); ++r) shops += merchant.is_valid(r) && merchant.string_at(r) == "shop";
    CHECK(shops == 1);
    CHECK(raw.num_rows() == 6);
    bool logged = false;
    for (const auto& e : pipeline.store().events_after(0, 100000))
        logged = logged || (e.event_type == "schema_change" && contains(e.details, "merchant"));
    CHECK(logged);
}

TEST_CASE("gold's anomaly_score is exactly minus the model's score_samples, nulls scored as NaN", "[pipeline][run]") {
    // Double features (read in place, a column with nulls copied with NaN) and integer features
    // (each value cast to float, as scikit-learn does) both give the model's own scores.
    for (const std::string amount_type : {"DOUBLE", "BIGINT"}) {
        TempDir dir("pipeline_exact_scores");
        write_model(dir.path() / "model.iforest");
        fs::create_directories(dir.path() / "landing");
        std::mt19937 rng(11);
        std::normal_distribution<double> normal;
        std::vector<std::array<double, 3>> rows;
        auto text = [](double v) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.17g", v);
            return std::string(buf);
        };
        for (int f = 0; f < 3; ++f) {
            std::ofstream out(dir.path() / "landing" / ("f" + std::to_string(f) + ".json"));
            for (int i = 0; i < 300; ++i) {
                const int id = static_cast<int>(rows.size());
                std::array<double, 3> v{normal(rng), normal(rng), std::round(std::abs(normal(rng)) * 60)};
                if (id % 17 == 5) v[1] = std::numeric_limits<double>::quiet_NaN();  // written as null
                out << "{\"tx_id\": " << id << ", \"V1\": " << text(v[0])
                    << ", \"V2\": " << (std::isnan(v[1]) ? std::string("null") : text(v[1]))
                    << ", \"Amount\": " << static_cast<long long>(v[2]) << "}\n";
                rows.push_back(v);
            }
        }
        std::ofstream(dir / "pipeline.json") << R"({"name": "exact", "storage": "storage",
  "sources": {"tx": {"path": "landing", "format": "json", "infer_column_types": true,
                     "schema_hints": "tx_id BIGINT, V1 DOUBLE, V2 DOUBLE, Amount )" + amount_type + R"(",
                     "max_files_per_trigger": 2, "settle_time_ms": 0}},
  "tables": [{"name": "scored", "from": "tx", "score": {"model": "model.iforest"},
              "select": ["tx_id", "anomaly_score", "is_anomaly"]}]})";
        auto pipeline = isoflow::Pipeline::from_file(dir / "pipeline.json");
        CHECK(pipeline.run_once().batches == 2);
        const auto model = isoflow::IsolationForest<float>::load((dir.path() / "model.iforest").string());
        isoflow::RowMatrix<float> X(static_cast<Eigen::Index>(rows.size()), 3);
        for (std::size_t r = 0; r < rows.size(); ++r)
            for (int j = 0; j < 3; ++j) X(static_cast<Eigen::Index>(r), j) = static_cast<float>(rows[r][static_cast<std::size_t>(j)]);
        const Eigen::VectorXd expected = model.score_samples(X);
        const auto gold = pipeline.store().read_table("scored");
        REQUIRE(gold.num_rows() == rows.size());
        for (std::size_t r = 0; r < gold.num_rows(); ++r) {
            const auto id = static_cast<Eigen::Index>(gold.column("tx_id").int64_values()[r]);
            CHECK(gold.column("anomaly_score").double_values()[r] == -expected(id));
            CHECK(gold.column("is_anomaly").bool_values()[r] == (expected(id) < model.offset()));
        }
        // Rows with a null feature are counted per batch (the first batch has files f0 and f1).
        std::size_t first_batch = 0, second_batch = 0;
        for (std::size_t r = 0; r < rows.size(); ++r)
            if (std::isnan(rows[r][1])) ++(r < 600 ? first_batch : second_batch);
        REQUIRE(first_batch > 0);
        REQUIRE(second_batch > 0);
        const auto last = pipeline.store().last_batches(2);
        REQUIRE(last.size() == 2);
        CHECK(contains(last[1].metrics, "\"rows_with_missing_features\":" + std::to_string(first_batch) + ","));
        CHECK(contains(last[0].metrics, "\"rows_with_missing_features\":" + std::to_string(second_batch) + ","));
    }
}

TEST_CASE("pipeline definitions: each remaining mistake names its place and what was expected", "[pipeline][config]") {
    TempDir dir("pipeline_config_all");
    write_model(dir.path() / "model.iforest");
    // Line 1 holds a valid start; the member at fault is on line 2 (or the whole part in `tail`).
    struct Case {
        std::string text;
        std::string message;
    };
    const std::string ok_sources = R"("sources": {"a": {"path": "in"}})";
    const std::string ok_tables = R"("tables": [{"name": "t", "from": "a"}])";
    auto top = [&](const std::string& member) {
        return "{\"name\": \"x\", \"storage\": \"s\", " + ok_sources + ", " + ok_tables + ",\n" + member + "}";
    };
    auto source = [&](const std::string& members) {
        return "{\"name\": \"x\", \"storage\": \"s\", " + ok_tables + ",\n\"sources\": {\"a\": {\"path\": \"in\", " +
               members + "}}}";
    };
    auto table = [&](const std::string& members) {
        return "{\"name\": \"x\", \"storage\": \"s\", " + ok_sources + ",\n\"tables\": [{\"name\": \"t\", \"from\": \"a\", " +
               members + "}]}";
    };
    const std::vector<Case> cases = {
        {"{\"storage\": \"s\", " + ok_sources + ",\n" + ok_tables + ", \"name\": \"\"}",
         "name: expected a pipeline name, got an empty string"},
        {top(R"("mode": "fast")"), R"(mode: expected "development" or "production", got "fast")"},
        {top(R"("max_attempts": 0)"), "max_attempts: expected at least 1"},
        {top(R"("first_backoff_ms": -1)"), "first_backoff_ms: expected 0 or more"},
        {top(R"("max_backoff_ms": -5)"), "max_backoff_ms: expected 0 or more"},
        {top(R"("busy_timeout_ms": -1)"), "busy_timeout_ms: expected 0 or more"},
        {top(R"("max_attempts": "three")"), "max_attempts: expected a number"},
        {"{\"name\": \"x\", \"storage\": \"s\", " + ok_tables + ",\n\"sources\": {}}",
         "sources: expected an object with at least one source"},
        {"{\"name\": \"x\", \"storage\": \"s\", " + ok_sources + ",\n\"tables\": []}",
         "tables: expected an array with at least one table"},
        {"{\"name\": \"x\", \"storage\": \"s\", " + ok_tables + ",\n\"sources\": {\"a\": 3}}", "sources.a: expected an object"},
        {"{\"name\": \"x\", \"storage\": \"s\", " + ok_tables + ",\n\"sources\": {\"a\": {\"format\": \"json\"}}}",
         "sources.a: missing key \"path\""},
        {"{\"name\": \"x\", \"storage\": \"s\", " + ok_tables + ",\n\"sources\": {\"a\": {\"path\": \"\"}}}",
         "sources.a.path: expected a path, got an empty string"},
        {source(R"("schema_evolution_mode": "grow")"),
         R"(expected addNewColumns, rescue, failOnNewColumns or none, got "grow")"},
        {source(R"("infer_column_types": 1)"), "sources.a.infer_column_types: expected true or false"},
        {source(R"("max_files_per_trigger": "many")"), "sources.a.max_files_per_trigger: expected a number"},
        {source(R"("schema_hints": 5)"), "sources.a.schema_hints: expected a string"},
        {source(R"("schema_hints": "Amount MONEY")"), "unknown type 'MONEY'"},
        {source(R"("schema": "")"), "sources.a.schema: expected at least one column"},
        {"{\"name\": \"x\", \"storage\": \"s\", " + ok_sources + ",\n\"tables\": [{\"from\": \"a\"}]}",
         "tables[0]: missing key \"name\""},
        {"{\"name\": \"x\", \"storage\": \"s\", " + ok_sources + ",\n\"tables\": [{\"name\": \"t\"}]}",
         "tables[0]: missing key \"from\""},
        {"{\"name\": \"x\", \"storage\": \"s\", " + ok_sources + ",\n\"tables\": [{\"name\": \"\", \"from\": \"a\"}]}",
         "tables[0].name: expected a table name, got an empty string"},
        {table(R"("from": "a")"), "key \"from\" given twice in tables[0]"},
        {top(R"("name": "y")"), "key \"name\" given twice in the pipeline"},
        {table(R"("quality": "platinum")"), R"(tables[0].quality: expected "bronze", "silver" or "gold", got "platinum")"},
        {table(R"("stored": "yes")"), "tables[0].stored: expected true or false"},
        {table(R"("select": "Amount")"), "tables[0].select: expected an array of expressions"},
        {table(R"("select": [1])"), "tables[0].select[0]: expected a string"},
        {table(R"("expectations": {})"), "tables[0].expectations: expected an array"},
        {table(R"("expectations": [{"constraint": "x > 1"}])"), "tables[0].expectations[0]: missing key \"name\""},
        {table(R"("expectations": [{"name": "e", "constraint": "x > 1", "when": 1}])"),
         "unknown key \"when\" in tables[0].expectations[0]"},
        {table(R"("score": {"model": "model.iforest", "threshold": 0.5})"), "unknown key \"threshold\" in tables[0].score"},
        {table(R"("score": {})"), "tables[0].score: missing key \"model\""},
        {table(R"("sink": {"format": "jsonl"})"), "tables[0].sink: missing key \"path\""},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        std::ofstream(dir / "p.json") << c.text;
        const std::string m = message_of([&] { (void)isoflow::Pipeline::from_file(dir / "p.json"); });
        INFO(m);
        CHECK(contains(m, c.message));
        CHECK(contains(m, "p.json:"));
        // The place is the line the mistake is on: every case puts it on line 2.
        CHECK(contains(m, "p.json:2:"));
    }
    // Mistakes found when the pipeline is built name the table and the text at fault.
    const std::vector<Case> built = {
        {table(R"("select": ["Amount AS"])"), "expected a column name after AS"},
        {table(R"("select": ["Amount AS a b"])"), "expected ',' or the end of the select list"},
        {table(R"("where": "Amount >")"), "table 't', stage 1 (where), column 9: expected an expression"},
        {table(R"("score": {"model": "missing.iforest"})"), "missing.iforest: cannot open"},
    };
    for (const auto& c : built) {
        INFO(c.text);
        std::ofstream(dir / "p.json") << c.text;
        const std::string m = message_of([&] { (void)isoflow::Pipeline::from_file(dir / "p.json"); });
        INFO(m);
        CHECK(contains(m, c.message));
        CHECK(m.starts_with(std::string(dir / "p.json") + ": "));  // and the file
    }
}
