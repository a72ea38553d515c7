// `isoflow run`, `events` and `generate --landing` as a user runs them: exit codes of bad pipeline
// files, signals during a batch, --full-refresh, events --follow, the pace and forms of landing
// files, and what the demo prints.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <isoflow/pipeline.hpp>

#include "pipeline/pipeline_test_util.hpp"

using namespace pipeline_test;
using isoflow_test::lines_of;
using isoflow_test::slurp;

namespace {

std::size_t count_of(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
}

// The integer after the first `prefix` in `text` (from `from` on) that spaces and digits follow,
// or -1. (No std::regex here: GCC 12 warns inside <regex> under the sanitizers' -O1, and warnings
// are errors.)
long long number_after(const std::string& text, const std::string& prefix, std::size_t from = 0) {
    for (auto at = text.find(prefix, from); at != std::string::npos; at = text.find(prefix, at + 1)) {
        std::size_t begin = at + prefix.size();
        while (begin < text.size() && text[begin] == ' ') ++begin;
        std::size_t end = begin;
        while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
        if (end > begin) return std::stoll(text.substr(begin, end - begin));
    }
    return -1;
}

// `YYYY-MM-DDTHH:MM:SS`, then optionally `.` and digits, then optionally `Z`.
bool is_iso8601(const std::string& s) {
    const std::string shape = "dddd-dd-ddTdd:dd:dd";
    if (s.size() < shape.size()) return false;
    for (std::size_t i = 0; i < shape.size(); ++i)
        if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != shape[i]) return false;
    std::size_t i = shape.size();
    if (i < s.size() && s[i] == '.') {
        const std::size_t digits = ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        if (i == digits) return false;
    }
    if (i < s.size() && s[i] == 'Z') ++i;
    return i == s.size();
}

// Starts the program with `args`, its stdout to `out` (stderr too); returns the pid.
pid_t spawn(const std::vector<std::string>& args, const fs::path& out) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(ISOFLOW_CLI));
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(ISOFLOW_CLI, argv.data());
        _exit(127);
    }
    return child;
}

// Waits at most `limit` for the child; its exit status, or -1 (then it is killed).
int wait_for(pid_t child, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < until) {
        if (waitpid(child, &status, WNOHANG) == child) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return -1;
}

// Polls `condition` every few ms for at most `limit`.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

std::optional<isoflow::BatchRecord> newest_batch(const fs::path& storage) {
    try {
        isoflow::SqliteStoreOptions options;
        options.read_only = true;
        isoflow::SqliteStore store(storage, options);
        const auto last = store.last_batches(1);
        if (last.empty()) return std::nullopt;
        return last.front();
    } catch (const isoflow::error&) {
        return std::nullopt;  // not created yet
    }
}

}  // namespace

TEST_CASE("run: a mistake in the pipeline file is status 1 and one line, not the usage", "[cli][pipeline][errors]") {
    TempDir dir("cli_pipeline_errors");
    write_model(dir.path() / "model.iforest");
    std::ofstream(dir / "p.json") << R"({"name": "x", "storage": "s", "sources": {"a": {"path": "in"}},
  "tables": [{"name": "t", "from": "b"}]})";
    auto r = run_command(cli() + " run " + quote(dir / "p.json"), dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "table 't' reads from 'b', which is neither a source nor a table"));
    CHECK(!contains(r.err, "Usage"));
    CHECK(lines_of(r.err).size() == 1);
    std::ofstream(dir / "p.json") << R"({"name": "x", "storage": "s",
  "sources": {"a": {"path": "in", "delimiter": 5}}, "tables": [{"name": "t", "from": "a"}]})";
    r = run_command(cli() + " run " + quote(dir / "p.json") + " --once", dir);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "p.json:2:"));
    CHECK(contains(r.err, "sources.a.delimiter: expected a string"));
    CHECK(lines_of(r.err).size() == 1);
    // Bad usage is still status 2 with the usage text.
    r = run_command(cli() + " run " + quote(dir / "p.json") + " --once --continuous", dir);
    CHECK(r.status == 2);
    CHECK(contains(r.err, "Usage"));
}

TEST_CASE("run --continuous: SIGINT or SIGTERM during a batch finishes it, then exit 0", "[cli][pipeline][signals]") {
    for (const int signal : {SIGINT, SIGTERM}) {
        INFO("signal " << signal);
        TempDir dir("cli_pipeline_signal");
        write_model(dir.path() / "model.iforest");
        std::ofstream(dir / "pipeline.json") << pipeline_json();
        write_landing_file(dir.path() / "landing", 0, 0, 150'000);  // one batch long enough to catch
        const pid_t child = spawn({"run", (dir.path() / "pipeline.json").string(), "--continuous"}, dir.path() / "out.txt");
        // The batch is planned (recorded before its rows are read), not yet committed.
        const bool mid_batch = eventually(
            [&] {
                const auto b = newest_batch(dir.path() / "storage");
                return b && b->state == isoflow::BatchState::planned;
            },
            std::chrono::seconds(20));
        if (!mid_batch) kill(child, SIGKILL);
        REQUIRE(mid_batch);
        const std::string signalled_at = isoflow::detail::store::now_iso_millis();
        kill(child, signal);
        const int status = wait_for(child, std::chrono::seconds(60));
        INFO(slurp(dir.path() / "out.txt"));
        CHECK(status == 0);
        isoflow::SqliteStoreOptions options;
        options.read_only = true;
        isoflow::SqliteStore store(dir.path() / "storage", options);
        CHECK(store.is_committed(1));
        // The signal came before the commit: the batch in progress was finished, not cut off.
        const auto batches = store.last_batches(1);
        REQUIRE(batches.size() == 1);
        CHECK(batches[0].batch_id == 1);
        CHECK(batches[0].committed_at >= signalled_at);
        CHECK(ids_of(store, "raw").size() == 150'000);
        bool canceled = false;
        for (const auto& e : store.events_after(0, 100000))
            canceled = canceled || (e.event_type == "update_progress" && contains(e.details, "CANCELED"));
        CHECK(canceled);
        CHECK(contains(slurp(dir.path() / "out.txt"), "150000 input rows"));
    }
}

TEST_CASE("run --full-refresh empties the tables and reprocesses every file once", "[cli][pipeline]") {
    TempDir dir("cli_full_refresh");
    write_model(dir.path() / "model.iforest");
    for (int f = 0; f < 4; ++f) write_landing_file(dir.path() / "landing", f, f * 10, 10);
    std::ofstream(dir / "pipeline.json") << pipeline_json();
    auto r = run_command(cli() + " run " + quote(dir / "pipeline.json") + " --once", dir);
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "40 input rows"));
    r = run_command(cli() + " run " + quote(dir / "pipeline.json") + " --once", dir);
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "0 input rows"));
    r = run_command(cli() + " run " + quote(dir / "pipeline.json") + " --once --full-refresh", dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "40 input rows"));
    isoflow::SqliteStoreOptions options;
    options.read_only = true;
    isoflow::SqliteStore store(dir.path() / "storage", options);
    auto raw = ids_of(store, "raw");
    std::sort(raw.begin(), raw.end());
    REQUIRE(raw.size() == 40);
    for (int i = 0; i < 40; ++i) CHECK(raw[static_cast<std::size_t>(i)] == i);
    bool reset = false;
    for (const auto& e : store.events_after(0, 100000)) reset = reset || contains(e.details, "RESETTING");
    CHECK(reset);
}

TEST_CASE("events --follow prints the log, then new events as they come, until SIGINT", "[cli][pipeline][events]") {
    TempDir dir("cli_events_follow");
    write_model(dir.path() / "model.iforest");
    write_landing_file(dir.path() / "landing", 0, 0, 10);
    std::ofstream(dir / "pipeline.json") << pipeline_json();
    REQUIRE(run_command(cli() + " run " + quote(dir / "pipeline.json") + " --once", dir).status == 0);
    const fs::path out = dir.path() / "follow.txt";
    const pid_t child = spawn({"events", (dir.path() / "pipeline.json").string(), "--follow"}, out);
    // One line per event: a run's create_update says "update started", its end state COMPLETED.
    auto runs = [&] { return count_of(slurp(out), "update started ("); };
    auto completed = [&] { return count_of(slurp(out), R"("state":"COMPLETED")"); };
    CHECK(eventually([&] { return runs() == 1 && completed() == 1; }, std::chrono::seconds(10)));
    write_landing_file(dir.path() / "landing", 1, 10, 10);
    REQUIRE(run_command(cli() + " run " + quote(dir / "pipeline.json") + " --once", dir).status == 0);
    CHECK(eventually([&] { return runs() == 2 && completed() == 2; }, std::chrono::seconds(10)));
    // Each event once, in sequence order.
    std::int64_t previous = 0;
    for (const auto& line : lines_of(slurp(out))) {
        const auto sequence = std::stoll(line.substr(0, line.find(' ')));
        CHECK(sequence == previous + 1);
        previous = sequence;
    }
    kill(child, SIGINT);
    CHECK(wait_for(child, std::chrono::seconds(10)) == 0);
}

TEST_CASE("generate --landing: --files-per-second paces the files, json and pydict hold one record a file",
          "[cli][generate]") {
    TempDir dir("cli_generate_landing");
    auto r = run_command(cli() + " generate --landing " + quote(dir / "paced") +
                             " --rows 6 --rows-per-file 1 --format jsonl --files-per-second 10",
                         dir);
    REQUIRE(r.status == 0);
    std::vector<fs::file_time_type> times;
    for (const auto& entry : fs::directory_iterator(dir.path() / "paced")) times.push_back(entry.last_write_time());
    REQUIRE(times.size() == 6);
    std::sort(times.begin(), times.end());
    // File k is renamed into place, then the program waits until (k + 1) / 10 s after the start.
    CHECK(times.back() - times.front() >= std::chrono::milliseconds(450));

    for (const std::string format : {"json", "pydict"}) {
        INFO(format);
        r = run_command(cli() + " generate --landing " + quote(dir / format) + " --rows 5 --rows-per-file 3 --format " + format, dir);
        CHECK(r.status == 2);
        CHECK(contains(r.err, "one record per file"));
        r = run_command(cli() + " generate --landing " + quote(dir / format) + " --rows 5 --rows-per-file 1 --format " + format, dir);
        CHECK(r.status == 0);
        CHECK(std::distance(fs::directory_iterator(dir.path() / format), fs::directory_iterator()) == 5);
    }
    r = run_command(cli() + " generate --landing " + quote(dir / "neg") + " --rows 5 --files-per-second -1", dir);
    CHECK(r.status == 2);
    CHECK(contains(r.err, "--files-per-second"));
}

TEST_CASE("generate --landing: the labels file is replaced, and a stopped run says what it wrote", "[cli][generate]") {
    TempDir dir("cli_generate_labels");
    for (int round = 0; round < 2; ++round) {
        const auto r = run_command(cli() + " generate --landing " + quote(dir / "landing") + " --rows 25 --rows-per-file 10", dir);
        REQUIRE(r.status == 0);
        CHECK(contains(r.out, "wrote 25 transactions"));
        CHECK(contains(r.out, "in 3 files"));
    }
    // Generated twice into the same place: the files are replaced, and so are the labels.
    const auto labels = lines_of(slurp(dir.path() / "landing_labels.csv"));
    REQUIRE(labels.size() == 26);
    CHECK(labels[0] == "tx_id,label");
    std::set<std::string> ids;
    for (std::size_t i = 1; i < labels.size(); ++i) ids.insert(labels[i].substr(0, labels[i].find(',')));
    CHECK(ids.size() == 25);

    // SIGINT stops it after the file being written; the summary and the labels count what was written.
    const pid_t child = spawn({"generate", "--landing", (dir.path() / "slow").string(), "--rows", "2000",
                               "--rows-per-file", "10", "--files-per-second", "20"},
                              dir.path() / "out.txt");
    const bool started = eventually(
        [&] {
            std::error_code ec;
            return fs::exists(dir.path() / "slow", ec) &&
                   std::distance(fs::directory_iterator(dir.path() / "slow", ec), fs::directory_iterator()) >= 3;
        },
        std::chrono::seconds(20));
    if (!started) kill(child, SIGKILL);
    REQUIRE(started);
    kill(child, SIGINT);
    CHECK(wait_for(child, std::chrono::seconds(20)) == 0);
    long long files = 0;
    for (const auto& entry : fs::directory_iterator(dir.path() / "slow"))
        files += entry.path().filename().string().front() != '.';
    const std::string out = slurp(dir.path() / "out.txt");
    INFO(out);
    CHECK(files < 200);
    CHECK(contains(out, "wrote " + std::to_string(files * 10) + " transactions"));
    CHECK(contains(out, "in " + std::to_string(files) + " files"));
    CHECK(contains(out, "(stopped by a signal)"));
    CHECK(lines_of(slurp(dir.path() / "slow_labels.csv")).size() == static_cast<std::size_t>(files * 10 + 1));
}

TEST_CASE("generate --landing --format csv: the timestamp is ISO 8601, the same as in JSON", "[cli][generate]") {
    TempDir dir("cli_generate_csv_timestamp");
    REQUIRE(run_command(cli() + " generate --landing " + quote(dir / "csv") + " --rows 4 --rows-per-file 4 --format csv --seed 8", dir).status == 0);
    REQUIRE(run_command(cli() + " generate --landing " + quote(dir / "jsonl") + " --rows 4 --rows-per-file 4 --format jsonl --seed 8", dir).status == 0);
    const auto csv = lines_of(slurp(dir.path() / "csv" / "tx-000000000.csv"));
    const auto jsonl = lines_of(slurp(dir.path() / "jsonl" / "tx-000000000.json"));
    REQUIRE(csv.size() == 5);
    REQUIRE(jsonl.size() == 4);
    CHECK(csv[0].substr(csv[0].rfind(',') + 1) == "timestamp");
    for (std::size_t i = 0; i < 4; ++i) {
        const std::string stamp = csv[i + 1].substr(csv[i + 1].rfind(',') + 1);
        INFO(stamp);
        CHECK(is_iso8601(stamp));
        CHECK(contains(jsonl[i], "\"timestamp\": \"" + stamp + "\""));
    }
}

TEST_CASE("demo prints row counts, expectation metrics and anomalies that agree with each other", "[cli][demo]") {
    TempDir dir("cli_demo_counts");
    const auto r = run_command(cli() + " demo --rows 30000 --seed 5 --workdir " + quote(dir / "work"), dir);
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    auto rows_of = [&](const std::string& table) { return number_after(r.out, "  " + table + " "); };
    const long long raw = rows_of("transaction_readings_raw"), cleaned = rows_of("transaction_readings_cleaned"),
                    gold = rows_of("predictions");
    CHECK(raw == 30000);
    CHECK(gold == cleaned);
    // The run's totals (the batch log's metrics printed above them are the last batch's only).
    const auto metrics = r.out.find(
        R"(expectations: {"dataset":"transaction_readings_cleaned","expectations":[{"name":"valid_transaction_reading",)");
    REQUIRE(metrics != std::string::npos);
    const auto metrics_end = r.out.find('\n', metrics);
    REQUIRE(contains(r.out.substr(metrics, metrics_end - metrics), R"(,"quarantined_records":0})"));
    const long long passed = number_after(r.out, R"("passed_records":)", metrics),
                    failed = number_after(r.out, R"(,"failed_records":)", metrics),
                    dropped = number_after(r.out, R"("dropped_records":)", metrics);
    CHECK(passed >= 0);
    CHECK(dropped > 0);  // the demo's null rate leaves out both Amount and Time of some records
    CHECK(failed == dropped);
    CHECK(passed == cleaned);
    CHECK(cleaned == raw - dropped);
    const auto flagged_at = r.out.find("anomalies flagged in gold: ");
    REQUIRE(flagged_at != std::string::npos);
    const long long anomalies = number_after(r.out, "anomalies flagged in gold: ", flagged_at);
    CHECK(number_after(r.out, " of ", flagged_at) == gold);
    CHECK(anomalies > 0);
    CHECK(anomalies < gold / 2);
    // The same count from the stored gold table.
    isoflow::SqliteStoreOptions options;
    options.read_only = true;
    isoflow::SqliteStore store(dir.path() / "work" / "storage", options);
    const auto predictions = store.read_table("predictions");
    long long flagged = 0;
    for (auto f : predictions.column("is_anomaly").bool_values()) flagged += f;
    CHECK(flagged == anomalies);
}
