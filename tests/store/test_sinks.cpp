// The CSV, JSON Lines and callback sinks: one file per table and batch, made visible by rename,
// a replayed batch id ignored.
#include <simdjson.h>

#include <cmath>
#include <string>
#include <vector>

#include "catch.hpp"
#include "isoflow/store.hpp"
#include "store_test_util.hpp"

using namespace isoflow;
using store_test::TempDir;
namespace fs = std::filesystem;

namespace {

// Two rows covering every type, quoting and nulls.
Batch small_batch() {
    Column id(DataType::int64), x(DataType::float64), flag(DataType::boolean), name(DataType::string),
        at(DataType::timestamp);
    id.append_int64(-7);
    id.append_int64(42);
    x.append_double(0.1);
    x.append_null();
    flag.append_bool(true);
    flag.append_null();
    name.append_string("say \"hi\", then\nleave");
    name.append_string("");
    at.append_timestamp(1'700'000'000'123'456);  // 2023-11-14T22:13:20.123456Z
    at.append_null();
    Batch b;
    b.add_column("id", std::move(id));
    b.add_column("x", std::move(x));
    b.add_column("flag", std::move(flag));
    b.add_column("name", std::move(name));
    b.add_column("at", std::move(at));
    return b;
}

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> out;
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("CSV sink: RFC 4180 text, one file per batch, nulls apart from empty strings", "[sinks]") {
    TempDir dir;
    CsvSink sink(dir / "out");
    CHECK_FALSE(sink.holds("gold", 3));
    CHECK(sink.write("gold", 3, small_batch()));
    const fs::path file = dir / "out" / "gold" / "gold-00000000000000000003.csv";
    CHECK(sink.file_for("gold", 3) == file);
    CHECK(sink.holds("gold", 3));
    CHECK(store_test::read_text(file) ==
          "id,x,flag,name,at\n"
          "-7,0.1,true,\"say \"\"hi\"\", then\nleave\",2023-11-14T22:13:20.123456Z\n"
          "42,,,\"\",\n");
    CHECK(files_in(dir / "out" / "gold") == std::vector<fs::path>{"gold-00000000000000000003.csv"});
}

TEST_CASE("CSV sink: non-finite doubles and an empty batch", "[sinks]") {
    TempDir dir;
    CsvSink sink(dir / "out");
    Batch b;
    b.add_column("v", Column::from_doubles(std::vector<double>{NAN, INFINITY, -INFINITY, 1e300}));
    sink.write("t", 1, b);
    CHECK(store_test::read_text(sink.file_for("t", 1)) == "v\nNaN\ninf\n-inf\n1e+300\n");
    Batch empty;
    empty.add_column("v", Column(DataType::float64));
    CHECK(sink.write("t", 2, empty));  // an empty batch still marks its id as held
    CHECK(store_test::read_text(sink.file_for("t", 2)) == "v\n");
}

TEST_CASE("JSON Lines sink: one object per row that a JSON parser reads back", "[sinks]") {
    TempDir dir;
    JsonLinesSink sink(dir / "out");
    Batch b = small_batch();
    CHECK(sink.write("silver", 12, b));
    const std::string text = store_test::read_text(dir / "out" / "silver" / "silver-00000000000000000012.jsonl");
    std::size_t lines = 0;
    std::size_t start = 0;
    while (start < text.size()) {
        const std::size_t end = text.find('\n', start);
        REQUIRE(end != std::string::npos);
        const simdjson::padded_string line(text.substr(start, end - start));
        simdjson::dom::parser p;
        simdjson::dom::object obj;
        REQUIRE(p.parse(line).get(obj) == simdjson::SUCCESS);
        if (lines == 0) {
            CHECK(int64_t(obj["id"]) == -7);
            CHECK(double(obj["x"]) == 0.1);
            CHECK(bool(obj["flag"]) == true);
            CHECK(std::string_view(obj["name"]) == "say \"hi\", then\nleave");
            CHECK(std::string_view(obj["at"]) == "2023-11-14T22:13:20.123456Z");
        } else {
            CHECK(int64_t(obj["id"]) == 42);
            CHECK(obj["x"].is_null());
            CHECK(obj["flag"].is_null());
            CHECK(std::string_view(obj["name"]).empty());
            CHECK(obj["at"].is_null());
        }
        ++lines;
        start = end + 1;
    }
    CHECK(lines == 2);
}

TEST_CASE("file sinks ignore a batch id they already hold and survive a stale temporary file", "[sinks]") {
    TempDir dir;
    const bool csv = GENERATE(true, false);
    std::unique_ptr<FileSink> sink;
    if (csv)
        sink = std::make_unique<CsvSink>(dir / "out");
    else
        sink = std::make_unique<JsonLinesSink>(dir / "out");
    // A crash after writing the temporary file but before the rename leaves this behind.
    const fs::path target = sink->file_for("gold", 5);
    fs::create_directories(target.parent_path());
    const fs::path stale = target.parent_path() / ("." + target.filename().string() + ".tmp");
    { std::ofstream(stale) << "half a batch"; }
    CHECK_FALSE(sink->holds("gold", 5));

    const Batch first = store_test::sample_batch(0, 10);
    CHECK(sink->write("gold", 5, first));
    const std::string written = store_test::read_text(target);
    CHECK(written.find("half a batch") == std::string::npos);
    CHECK_FALSE(fs::exists(stale));

    // The replay of batch 5 (even with other rows) changes nothing.
    CHECK_FALSE(sink->write("gold", 5, store_test::sample_batch(100, 3)));
    CHECK(store_test::read_text(target) == written);
    CHECK(sink->write("gold", 6, first));
    CHECK(sink->write("silver", 5, first));
    CHECK(files_in(dir / "out" / "gold").size() == 2);
}

TEST_CASE("file sinks refuse table names that would leave their folder", "[sinks]") {
    TempDir dir;
    CsvSink sink(dir / "out");
    for (const char* bad : {"", "..", "../escape", "a/b", ".hidden", "c:d"})
        REQUIRE_THROWS_AS(sink.write(bad, 1, small_batch()), config_error);
    CHECK(files_in(dir.path()) == std::vector<fs::path>{});
}

TEST_CASE("file sink on a read-only folder is an io_error", "[sinks]") {
    TempDir dir;
    if (::geteuid() == 0) {
        // Root writes anyway; make the folder a file so that creating it fails for real.
        { std::ofstream(dir / "out") << "x"; }
        CsvSink sink(dir / "out");
        REQUIRE_THROWS_AS(sink.write("t", 1, small_batch()), io_error);
        return;
    }
    fs::create_directories(dir / "out");
    fs::permissions(dir / "out", fs::perms::owner_read | fs::perms::owner_exec);
    CsvSink sink(dir / "out");
    REQUIRE_THROWS_AS(sink.write("t", 1, small_batch()), io_error);
}

TEST_CASE("callback sink hands every batch over and asks the callback what it holds", "[sinks]") {
    std::vector<std::pair<std::string, std::uint64_t>> seen;
    std::size_t rows = 0;
    CallbackSink sink(
        [&](const std::string& table, std::uint64_t batch_id, const Batch& b) {
            seen.emplace_back(table, batch_id);
            rows += b.num_rows();
        },
        [&](const std::string& table, std::uint64_t batch_id) {
            return std::find(seen.begin(), seen.end(), std::pair{table, batch_id}) != seen.end();
        });
    CHECK(sink.write("gold", 1, store_test::sample_batch(0, 4)));
    CHECK(sink.write("gold", 2, store_test::sample_batch(4, 3)));
    CHECK_FALSE(sink.write("gold", 1, store_test::sample_batch(0, 4)));
    CHECK(seen == std::vector<std::pair<std::string, std::uint64_t>>{{"gold", 1}, {"gold", 2}});
    CHECK(rows == 7);

    std::size_t calls = 0;
    CallbackSink plain([&](const std::string&, std::uint64_t, const Batch&) { ++calls; });
    CHECK(plain.write("t", 1, small_batch()));
    CHECK(plain.write("t", 1, small_batch()));  // without a holds function every delivery is made
    CHECK(calls == 2);
    REQUIRE_THROWS_AS(CallbackSink(CallbackSink::Callback{}), config_error);
}
