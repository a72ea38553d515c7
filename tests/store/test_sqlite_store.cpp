// SqliteStore on real files: layout and settings, round trips of every type and NULL, schema
// evolution, atomic batches, the batch log and replay, source positions, the event log.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "catch.hpp"
#include "isoflow/store.hpp"
#include "store_test_util.hpp"

using namespace isoflow;
using store_test::Db;
using store_test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string expected_name(std::int64_t i) { return "row \"" + std::to_string(i) + "\", ok"; }

// Checks that `b` holds exactly the rows sample_batch(first, n) describes, value by value.
void check_sample_rows(const Batch& b, std::int64_t first, std::size_t n) {
    REQUIRE(b.num_rows() == n);
    const auto& id = b.column("id");
    const auto& x = b.column("x");
    const auto& flag = b.column("flag");
    const auto& name = b.column("name");
    const auto& at = b.column("at");
    for (std::size_t k = 0; k < n; ++k) {
        const std::int64_t i = first + static_cast<std::int64_t>(k);
        REQUIRE(id.is_valid(k));
        CHECK(id.int64_values()[k] == i);
        CHECK(x.is_null(k) == (i % 5 == 1));
        if (x.is_valid(k)) CHECK(x.double_values()[k] == static_cast<double>(i) * 0.5 - 3.25);
        CHECK(flag.is_null(k) == (i % 5 == 2));
        if (flag.is_valid(k)) CHECK((flag.bool_values()[k] != 0) == (i % 2 == 0));
        CHECK(name.is_null(k) == (i % 5 == 3));
        if (name.is_valid(k)) CHECK(name.string_at(k) == expected_name(i));
        CHECK(at.is_null(k) == (i % 5 == 4));
        if (at.is_valid(k)) CHECK(at.int64_values()[k] == 1'700'000'000'000'000 + i * 1'000'001);
    }
}

}  // namespace

TEST_CASE("a new store is one WAL file with 64 KiB pages and the store's tables", "[store]") {
    TempDir dir;
    {
        SqliteStore store(dir / "st");
        CHECK(store.database_path() == dir / "st" / "pipeline.db");
        CHECK(fs::exists(dir / "st" / "LOCK"));
        Db db(store.database_path());
        CHECK(db.value("PRAGMA journal_mode") == "wal");
        CHECK(db.value("PRAGMA page_size") == "65536");
        const auto names = db.rows("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
        std::vector<std::string> got;
        for (const auto& r : names) got.push_back(r[0]);
        for (const char* t : {"_isoflow_batches", "_isoflow_events", "_isoflow_meta", "_isoflow_seen_files",
                              "_isoflow_source_plans", "_isoflow_source_properties", "_isoflow_source_schemas",
                              "_isoflow_tables"})
            CHECK(std::find(got.begin(), got.end(), t) != got.end());
        CHECK(store.tables().empty());
        CHECK(store.row_counts().empty());
        CHECK_FALSE(store.last_committed_batch());
        CHECK_FALSE(store.pending_batch());
    }
    // Reopening finds the same store (no error, nothing recreated).
    SqliteStore again(dir / "st");
    CHECK(again.tables().empty());
}

TEST_CASE("rows of every type and their NULLs round-trip, as the sqlite3 shell sees them", "[store]") {
    TempDir dir;
    SqliteStore store(dir / "st");
    {
        auto tx = store.transaction(1);
        tx.append("bronze", store_test::sample_batch(0, 25));
        tx.commit(R"({"rows": 25})");
    }
    check_sample_rows(store.read_table("bronze"), 0, 25);

    Db db(store.database_path());
    CHECK(db.value("SELECT count(*) FROM bronze") == "25");
    // Declared types and storage classes.
    const auto cols = db.rows("SELECT name, type FROM pragma_table_info('bronze') ORDER BY cid");
    REQUIRE(cols.size() == 5);
    CHECK(cols[0] == std::vector<std::string>{"id", "BIGINT"});
    CHECK(cols[1] == std::vector<std::string>{"x", "DOUBLE"});
    CHECK(cols[2] == std::vector<std::string>{"flag", "BOOLEAN"});
    CHECK(cols[3] == std::vector<std::string>{"name", "TEXT"});
    CHECK(cols[4] == std::vector<std::string>{"at", "TIMESTAMP"});
    // Row 5: every value present. 5 * 0.5 - 3.25 = -0.75; flag false (odd); at = base + 5 * 1000001.
    const auto r5 = db.rows("SELECT typeof(id), typeof(x), typeof(flag), typeof(name), typeof(at), "
                            "x, flag, name, at FROM bronze WHERE id = 5");
    REQUIRE(r5.size() == 1);
    CHECK(r5[0] == std::vector<std::string>{"integer", "real", "integer", "text", "integer", "-0.75", "0",
                                            "row \"5\", ok", "1700000005000005"});
    CHECK(db.value("SELECT flag FROM bronze WHERE id = 10") == "1");
    // Nulls from validity bitmaps: ids 1, 2, 3, 4 have x, flag, name, at null respectively.
    CHECK(db.value("SELECT typeof(x) FROM bronze WHERE id = 1") == "null");
    CHECK(db.value("SELECT typeof(flag) FROM bronze WHERE id = 2") == "null");
    CHECK(db.value("SELECT typeof(name) FROM bronze WHERE id = 3") == "null");
    CHECK(db.value("SELECT typeof(at) FROM bronze WHERE id = 4") == "null");
    CHECK(db.value("SELECT count(*) FROM bronze WHERE x IS NULL") == "5");
    // Booleans are 0/1 and timestamps microseconds since the epoch (UTC).
    CHECK(db.value("SELECT count(*) FROM bronze WHERE flag NOT IN (0, 1)") == "0");
    CHECK(db.value("SELECT strftime('%Y-%m-%d %H:%M:%S', at / 1000000, 'unixepoch') FROM bronze WHERE id = 0") ==
          "2023-11-14 22:13:20");
}

TEST_CASE("extreme values, empty strings and odd names survive", "[store]") {
    TempDir dir;
    SqliteStore store(dir / "st");
    Column big(DataType::int64), d(DataType::float64), s(DataType::string), ts(DataType::timestamp);
    big.append_int64(INT64_MIN);
    big.append_int64(INT64_MAX);
    big.append_int64(0);
    d.append_double(1e-308);
    d.append_double(-1.7976931348623157e308);
    d.append_double(0.1);
    s.append_string("");
    s.append_string(std::string("nul\0inside", 10));
    s.append_string("ünïcødé ✓");
    ts.append_timestamp(-1);  // 1969-12-31T23:59:59.999999Z
    ts.append_timestamp(253402300799999999);
    ts.append_timestamp(0);
    Batch b;
    b.add_column("big \"quoted\"", std::move(big));
    b.add_column("d", std::move(d));
    b.add_column("s; DROP TABLE x", std::move(s));
    b.add_column("ts", std::move(ts));
    {
        auto tx = store.transaction(7);
        tx.append("we\"ird table", b);
        tx.commit();
    }
    const Batch back = store.read_table("we\"ird table");
    REQUIRE(back.num_rows() == 3);
    CHECK(back.schema().field(0).name == "big \"quoted\"");
    CHECK(back.column(0).int64_values()[0] == INT64_MIN);
    CHECK(back.column(0).int64_values()[1] == INT64_MAX);
    CHECK(back.column(1).double_values()[0] == 1e-308);
    CHECK(back.column(1).double_values()[1] == -1.7976931348623157e308);
    CHECK(back.column(1).double_values()[2] == 0.1);
    CHECK(back.column(2).is_valid(0));
    CHECK(back.column(2).string_at(0).empty());
    CHECK(back.column(2).string_at(1) == std::string_view("nul\0inside", 10));
    CHECK(back.column(2).string_at(2) == "ünïcødé ✓");
    CHECK(back.column(3).int64_values()[0] == -1);
    CHECK(back.column(3).int64_values()[1] == 253402300799999999);
    Db db(store.database_path());
    CHECK(db.value("SELECT typeof(\"s; DROP TABLE x\") FROM \"we\"\"ird table\" LIMIT 1") == "text");
}

TEST_CASE("large appends use many multi-row statements and keep the order", "[store]") {
    TempDir dir;
    const std::size_t limit = GENERATE(std::size_t{0}, std::size_t{7});
    SqliteStoreOptions options;
    options.max_rows_per_insert = limit;  // 7: full statements of 7 plus power-of-two remainders
    SqliteStore store(dir / "st", options);
    const std::size_t n = 10'001;
    {
        auto tx = store.transaction(1);
        tx.append("t", store_test::sample_batch(0, n));
        tx.append("t", store_test::sample_batch(static_cast<std::int64_t>(n), 3));
        tx.commit();
    }
    Db db(store.database_path());
    CHECK(db.value("SELECT count(*) FROM t") == std::to_string(n + 3));
    // Insertion order is id order: no row with a smaller rowid has a larger id.
    CHECK(db.value("SELECT count(*) FROM t a JOIN t b ON a.rowid = b.rowid - 1 WHERE b.id != a.id + 1") == "0");
    check_sample_rows(store.read_table("t"), 0, n + 3);
}

TEST_CASE("schema evolution adds nullable columns, a type conflict is a clear error", "[store]") {
    TempDir dir;
    SqliteStore store(dir / "st");
    Batch first;
    first.add_column("id", Column::from_int64s(std::vector<std::int64_t>{1, 2}));
    first.add_column("Amount", Column::from_doubles(std::vector<double>{1.5, 2.5}));
    {
        auto tx = store.transaction(1);
        tx.append("silver", first);
        tx.commit();
    }
    Batch second;
    second.add_column("ID", Column::from_int64s(std::vector<std::int64_t>{3}));  // same column, other case
    second.add_column("amount", Column::from_int64s(std::vector<std::int64_t>{4}));  // BIGINT into DOUBLE: fine
    Column note(DataType::string);
    note.append_string("new");
    second.add_column("note", std::move(note));
    TableChange change;
    {
        auto tx = store.transaction(2);
        change = store.ensure_table("silver", second.schema());
        tx.append("silver", second);
        tx.commit();
    }
    CHECK_FALSE(change.created);
    REQUIRE(change.added_columns.size() == 1);
    CHECK(change.added_columns[0].name == "note");
    CHECK(change.added_columns[0].type == DataType::string);

    const auto schema = store.table_schema("SILVER");
    REQUIRE(schema);
    REQUIRE(schema->size() == 3);
    CHECK(schema->field(0).name == "id");
    CHECK(schema->field(1).type == DataType::float64);
    CHECK(schema->field(2).name == "note");
    Db db(store.database_path());
    CHECK(db.rows("SELECT id, Amount, note FROM silver ORDER BY id") ==
          std::vector<std::vector<std::string>>{{"1", "1.5", "NULL"}, {"2", "2.5", "NULL"}, {"3", "4.0", "new"}});

    Batch conflict;
    Column text(DataType::string);
    text.append_string("oops");
    conflict.add_column("Amount", std::move(text));
    auto tx = store.transaction(3);
    try {
        tx.append("silver", conflict);
        FAIL("a type conflict must throw");
    } catch (const schema_error& e) {
        const std::string msg = e.what();
        CHECK(msg.find("'Amount'") != std::string::npos);
        CHECK(msg.find("DOUBLE") != std::string::npos);
        CHECK(msg.find("TEXT") != std::string::npos);
        CHECK(msg.find("pipeline.db") != std::string::npos);
    }
    tx.rollback();
    CHECK(db.value("SELECT count(*) FROM silver") == "3");

    Batch twins;
    twins.add_column("a", Column::from_int64s(std::vector<std::int64_t>{1}));
    twins.add_column("A", Column::from_int64s(std::vector<std::int64_t>{2}));
    auto tx2 = store.transaction(3);
    REQUIRE_THROWS_AS(tx2.append("other", twins), schema_error);
    REQUIRE_THROWS_AS(tx2.append("_isoflow_batches", first), schema_error);
    REQUIRE_THROWS_AS(tx2.append("sqlite_x", first), schema_error);
}

TEST_CASE("an exception mid-batch leaves nothing: no rows, tables, columns, files or commit", "[store]") {
    TempDir dir;
    SqliteStore store(dir / "st");
    {
        auto tx = store.transaction(1);
        tx.append("bronze", store_test::sample_batch(0, 10));
        tx.commit();
    }
    Batch wider = store_test::sample_batch(10, 10);
    wider.add_column("extra", Column::from_int64s(std::vector<std::int64_t>(10, 9)));
    const SeenFileEntry seen{"/landing/a.json", 10, 123, 2};
    try {
        auto tx = store.transaction(2);
        tx.append("bronze", wider);                            // adds a column
        tx.append("gold", store_test::sample_batch(10, 10));  // creates a table
        store.commit_source_plan("transactions", 2, std::span(&seen, 1));
        store.append_event(Event{.origin = {"p", "gold", 2}, .event_type = "flow_progress"});
        throw std::runtime_error("scoring failed");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == "scoring failed");
    }
    CHECK_FALSE(store.in_batch());
    CHECK_FALSE(store.is_committed(2));
    CHECK(store.tables() == std::vector<std::string>{"bronze"});
    CHECK(store.table_schema("bronze")->size() == 5);
    CHECK_FALSE(store.table_schema("gold"));
    CHECK_FALSE(store.find_seen_file("transactions", "/landing/a.json"));
    CHECK(store.events_after(0).empty());
    Db db(store.database_path());
    CHECK(db.value("SELECT count(*) FROM bronze") == "10");
    CHECK(db.value("SELECT count(*) FROM sqlite_schema WHERE name = 'gold'") == "0");

    // The same batch id can now be committed, once.
    {
        auto tx = store.transaction(2);
        tx.append("bronze", wider);
        store.commit_source_plan("transactions", 2, std::span(&seen, 1));
        tx.commit();
    }
    CHECK(store.is_committed(2));
    CHECK(db.value("SELECT count(*) FROM bronze") == "20");
    CHECK(db.value("SELECT count(extra) FROM bronze") == "10");
    REQUIRE(store.find_seen_file("transactions", "/landing/a.json"));
    try {
        store.begin_batch(2);
        FAIL("a committed batch id must be refused");
    } catch (const io_error& e) {
        CHECK(std::string(e.what()).find("batch 2 is already committed") != std::string::npos);
    }
    CHECK_FALSE(store.in_batch());
    REQUIRE_THROWS_AS(store.record_plan(2, "{}", ""), io_error);
    REQUIRE_THROWS_AS(store.append("bronze", wider), io_error);  // outside a batch
}

TEST_CASE("a crash mid-batch leaves the plan to replay and none of its rows", "[store]") {
    TempDir dir;
    const auto storage = dir / "st";
    {
        SqliteStore store(storage);
        store.record_plan(1, R"({"files": ["a.json"]})", "sha256:aaa");
        auto tx = store.transaction(1);
        tx.append("bronze", store_test::sample_batch(0, 5));
        tx.commit(R"({"rows_in": 5})");
    }
    // The child plans batch 2, writes part of it and dies by SIGKILL before committing.
    const int status = store_test::in_child([&] {
        SqliteStore store(storage);
        store.record_plan(2, R"({"files": ["b.json", "c.json"]})", "sha256:bbb");
        store.begin_batch(2);
        store.append("bronze", store_test::sample_batch(5, 1000));
        store.append("gold", store_test::sample_batch(5, 1000));
        ::raise(SIGKILL);
        return 0;
    });
    REQUIRE(status == 128 + SIGKILL);

    SqliteStore store(storage);  // the dead child's lock is gone with it
    const auto pending = store.pending_batch();
    REQUIRE(pending);
    CHECK(pending->batch_id == 2);
    CHECK(pending->state == BatchState::planned);
    CHECK(pending->plan == R"({"files": ["b.json", "c.json"]})");
    CHECK(pending->model_checksum == "sha256:bbb");
    CHECK_FALSE(store.is_committed(2));
    CHECK(store.last_committed_batch() == std::uint64_t{1});
    const auto counts = store.row_counts();
    REQUIRE(counts.size() == 1);
    CHECK(counts[0].table == "bronze");
    CHECK(counts[0].rows == 5);

    // Replay: the same plan, committed this time.
    {
        auto tx = store.transaction(pending->batch_id);
        tx.append("bronze", store_test::sample_batch(5, 1000));
        tx.append("gold", store_test::sample_batch(5, 1000));
        tx.commit(R"({"rows_in": 1000})");
    }
    CHECK_FALSE(store.pending_batch());
    const auto last = store.last_batches(5);
    REQUIRE(last.size() == 2);
    CHECK(last[0].batch_id == 2);
    CHECK(last[0].state == BatchState::committed);
    CHECK(last[0].metrics == R"({"rows_in": 1000})");
    CHECK(last[0].plan == R"({"files": ["b.json", "c.json"]})");
    CHECK_FALSE(last[0].committed_at.empty());
    CHECK(last[1].batch_id == 1);
    CHECK(last[1].model_checksum == "sha256:aaa");
    check_sample_rows(store.read_table("bronze"), 0, 1005);
    check_sample_rows(store.read_table("gold"), 5, 1000);
    CHECK(store.row_counts().size() == 2);
}

TEST_CASE("source positions: plans, seen files, schemas and properties per source", "[store]") {
    TempDir dir;
    SqliteStore store(dir / "st");
    CHECK(store.last_source_batch("a") == 0);
    CHECK_FALSE(store.pending_source_plan("a"));
    store.save_source_plan("a", 1, "plan-a1");
    store.save_source_plan("b", 1, "plan-b1");
    REQUIRE(store.pending_source_plan("a"));
    CHECK(store.pending_source_plan("a")->second == "plan-a1");
    const std::vector<SeenFileEntry> files{{"/in/1.json", 10, 111, 1}, {"/in/2.json", 20, 222, 1}};
    {
        auto tx = store.transaction(1);
        store.commit_source_plan("a", 1, files);
        tx.commit();
    }
    CHECK_FALSE(store.pending_source_plan("a"));
    CHECK(store.pending_source_plan("b")->first == 1);  // other sources are separate
    CHECK(store.last_source_batch("a") == 1);
    CHECK(store.seen_file_count("a") == 2);
    CHECK(store.seen_file_count("b") == 0);
    CHECK(store.find_seen_file("a", "/in/2.json") == files[1]);
    CHECK_FALSE(store.find_seen_file("b", "/in/2.json"));
    REQUIRE_THROWS_AS(store.save_source_plan("a", 1, "again"), io_error);
    // An old plan below the last committed one is not pending.
    store.save_source_plan("a", 3, "plan-a3");
    CHECK(store.pending_source_plan("a")->first == 3);

    Schema s;
    s.add(Field{"cust_id", DataType::int64, true});
    s.add(Field{"Amount \"x\"", DataType::float64, true});
    store.save_source_schema("a", 1, s);
    s.add(Field{"when", DataType::timestamp, true});
    store.save_source_schema("a", 2, s);
    const auto latest = store.latest_source_schema("a");
    REQUIRE(latest);
    CHECK(latest->first == 2);
    CHECK(latest->second == s);
    CHECK_FALSE(store.latest_source_schema("b"));

    store.set_source_property("a", "start_time", "12345");
    store.set_source_property("a", "start_time", "67890");
    CHECK(store.source_property("a", "start_time") == std::string("67890"));
    CHECK_FALSE(store.source_property("b", "start_time"));
}

TEST_CASE("event log: DLT's shape, sequence order, read after a sequence, rollback", "[store]") {
    TempDir dir;
    SqliteStore store(dir / "st");
    const auto s1 = store.append_event(Event{.origin = {"fraud", "", std::nullopt},
                                             .event_type = "create_update",
                                             .message = "Update started"});
    const auto s2 = store.append_event(Event{.origin = {"fraud", "gold", 4},
                                             .level = "METRICS",
                                             .event_type = "flow_progress",
                                             .message = "gold: 10 rows",
                                             .details = R"({"flow_progress": {"metrics": {"num_output_rows": 10}}})"});
    CHECK(s2 > s1);
    {
        auto tx = store.transaction(4);
        store.append_event(Event{.origin = {"fraud", "gold", 4}, .event_type = "flow_progress"});
        // rolled back with the batch
    }
    const auto s3 = store.append_event(Event{.origin = {"fraud", "", 4},
                                             .level = "ERROR",
                                             .event_type = "error",
                                             .message = "batch 4 failed: disk full"});
    const auto all = store.events_after(0);
    REQUIRE(all.size() == 3);
    CHECK(all[0].sequence == s1);
    CHECK(all[1].sequence == s2);
    CHECK(all[2].sequence == s3);
    CHECK(all[0].origin == EventOrigin{"fraud", "", std::nullopt});
    CHECK(all[1].origin == EventOrigin{"fraud", "gold", 4});
    CHECK(all[1].level == "METRICS");
    CHECK(all[1].details == R"({"flow_progress": {"metrics": {"num_output_rows": 10}}})");
    CHECK(all[0].details == "{}");
    CHECK(all[2].message == "batch 4 failed: disk full");
    CHECK(all[0].id.size() == 36);
    CHECK(all[0].id[14] == '4');
    CHECK(all[0].id != all[1].id);
    CHECK(all[0].timestamp.size() == 24);  // 2024-01-02T03:04:05.678Z
    CHECK(all[0].timestamp.back() == 'Z');

    const auto after = store.events_after(s1);
    REQUIRE(after.size() == 2);
    CHECK(after[0].event_type == "flow_progress");
    CHECK(store.events_after(s3).empty());
    CHECK(store.events_after(0, 1).size() == 1);

    REQUIRE_THROWS_AS(store.append_event(Event{.event_type = "x", .details = "{not json"}), parse_error);

    Db db(store.database_path());
    CHECK(db.value("SELECT count(*) FROM _isoflow_events WHERE json_extract(origin, '$.table') = 'gold'") == "1");
    CHECK(db.value("SELECT json_extract(details, '$.flow_progress.metrics.num_output_rows') FROM _isoflow_events "
                   "WHERE event_type = 'flow_progress'") == "10");
}

TEST_CASE("a read-only store sees committed data beside the writer and refuses writes", "[store]") {
    TempDir dir;
    SqliteStoreOptions ro;
    ro.read_only = true;
    REQUIRE_THROWS_AS(SqliteStore(dir / "none", ro), io_error);

    SqliteStore writer(dir / "st");
    {
        auto tx = writer.transaction(1);
        tx.append("t", store_test::sample_batch(0, 3));
        tx.commit();
    }
    writer.append_event(Event{.origin = {"p", "", 1}, .event_type = "update_progress"});
    SqliteStore reader(dir / "st", ro);
    CHECK(reader.row_counts().at(0).rows == 3);
    writer.begin_batch(2);
    writer.append("t", store_test::sample_batch(3, 3));
    CHECK(reader.row_counts().at(0).rows == 3);  // uncommitted rows are invisible
    writer.commit_batch();
    CHECK(reader.row_counts().at(0).rows == 6);
    const auto seq = reader.events_after(0).back().sequence;
    writer.append_event(Event{.origin = {"p", "", 2}, .event_type = "update_progress", .message = "later"});
    const auto followed = reader.events_after(seq);  // what `isoflow events --follow` polls
    REQUIRE(followed.size() == 1);
    CHECK(followed[0].message == "later");
    REQUIRE_THROWS_AS(reader.begin_batch(3), io_error);
    REQUIRE_THROWS_AS(reader.append_event(Event{.event_type = "x"}), io_error);
}

TEST_CASE("reset (full refresh) drops tables and positions, keeps the event log", "[store]") {
    TempDir dir;
    SqliteStore store(dir / "st");
    const SeenFileEntry seen{"/in/a", 1, 1, 1};
    {
        auto tx = store.transaction(1);
        tx.append("bronze", store_test::sample_batch(0, 3));
        store.commit_source_plan("src", 1, std::span(&seen, 1));
        tx.commit();
    }
    store.append_event(Event{.event_type = "create_update"});
    store.reset();
    CHECK(store.tables().empty());
    CHECK_FALSE(store.is_committed(1));
    CHECK_FALSE(store.find_seen_file("src", "/in/a"));
    CHECK(store.last_source_batch("src") == 0);
    CHECK(store.events_after(0).size() == 1);
    Db db(store.database_path());
    CHECK(db.value("SELECT count(*) FROM sqlite_schema WHERE name = 'bronze'") == "0");
    {
        auto tx = store.transaction(1);
        tx.append("bronze", store_test::sample_batch(0, 2));
        tx.commit();
    }
    CHECK(db.value("SELECT count(*) FROM bronze") == "2");
}
