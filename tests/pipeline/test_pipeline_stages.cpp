// Pipelines built in C++ from typed stages: stages run in the order given, C++ predicate
// expectations, map stages, the checks made when the pipeline is built, and the same tables as the
// equivalent JSON pipeline.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <isoflow/pipeline.hpp>

#include "catch.hpp"
#include "pipeline_test_util.hpp"

using namespace pipeline_test;
using isoflow::Batch;
using isoflow::DataType;
using isoflow::Field;
using isoflow::PipelineBuilder;
using isoflow::Schema;

namespace {

// The source of pipeline_json(): JSON Lines with inferred types and the hints of the test files.
isoflow::FileSourceOptions inferred_source(const fs::path& landing) {
    isoflow::FileSourceOptions o;
    o.path = landing.string();
    o.format = isoflow::FileFormat::json;
    o.infer_column_types = true;
    o.schema_hints = "tx_id BIGINT, V1 DOUBLE, V2 DOUBLE, Amount DOUBLE, Time DOUBLE";
    o.max_files_per_trigger = 3;
    o.settle_time = std::chrono::milliseconds(0);
    return o;
}

// The same files with a declared schema: checked when the pipeline is built.
isoflow::FileSourceOptions declared_source(const fs::path& landing) {
    auto o = inferred_source(landing);
    o.infer_column_types = false;
    o.schema_hints.clear();
    o.schema = Schema({Field{"tx_id", DataType::int64, true}, Field{"V1", DataType::float64, true},
                       Field{"V2", DataType::float64, true}, Field{"Amount", DataType::float64, true},
                       Field{"Time", DataType::float64, true}});
    return o;
}

std::vector<std::int64_t> sorted_ids(isoflow::Store& store, const std::string& table) {
    auto ids = ids_of(store, table);
    std::sort(ids.begin(), ids.end());
    return ids;
}

// Every value of two batches, column by column.
void check_same_rows(const Batch& a, const Batch& b) {
    REQUIRE(a.schema() == b.schema());
    REQUIRE(a.num_rows() == b.num_rows());
    for (std::size_t c = 0; c < a.num_columns(); ++c) {
        INFO("column " << a.schema().field(c).name);
        const auto& x = a.column(c);
        const auto& y = b.column(c);
        for (std::size_t r = 0; r < a.num_rows(); ++r) {
            REQUIRE(x.is_null(r) == y.is_null(r));
            if (x.is_null(r)) continue;
            switch (x.type()) {
                case DataType::int64:
                case DataType::timestamp: REQUIRE(x.int64_values()[r] == y.int64_values()[r]); break;
                case DataType::float64: REQUIRE(x.double_values()[r] == y.double_values()[r]); break;
                case DataType::boolean: REQUIRE(x.bool_values()[r] == y.bool_values()[r]); break;
                case DataType::string: REQUIRE(x.string_at(r) == y.string_at(r)); break;
            }
        }
    }
}

// The message of the config_error `f` throws; fails the test if it throws anything else.
template <class F>
std::string config_error_of(F&& f) {
    try {
        f();
    } catch (const isoflow::config_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        FAIL("expected a config_error, got: " << e.what());
    }
    FAIL("expected a config_error, nothing was thrown");
    return {};
}

}  // namespace

TEST_CASE("a table's stages run in the order given", "[pipeline][stages]") {
    TempDir dir("pipeline_stage_order");
    write_landing_file(dir.path() / "landing", 0, 0, 14);
    using isoflow::select;
    using isoflow::where;
    auto pipeline = PipelineBuilder("order", dir.path() / "storage")
                        .source("tx", inferred_source(dir.path() / "landing"))
                        .table("filter_first", "tx", where("tx_id >= 5") | select({"tx_id * 2 AS tx_id"}))
                        .table("select_first", "tx", select({"tx_id * 2 AS tx_id"}) | where("tx_id >= 5"))
                        .build();
    pipeline.run_once();
    std::vector<std::int64_t> filter_first, select_first;
    for (std::int64_t id = 0; id < 14; ++id) {
        if (id >= 5) filter_first.push_back(id * 2);
        if (id * 2 >= 5) select_first.push_back(id * 2);
    }
    CHECK(sorted_ids(pipeline.store(), "filter_first") == filter_first);
    CHECK(sorted_ids(pipeline.store(), "select_first") == select_first);
    CHECK(filter_first != select_first);
    CHECK(pipeline.store().read_table("filter_first").num_columns() == 1);
}

TEST_CASE("C++ predicate expectations drop and quarantine rows, their metrics reach the event log",
          "[pipeline][stages][expectations]") {
    TempDir dir("pipeline_stage_predicates");
    write_landing_file(dir.path() / "landing", 0, 0, 14);  // ids 3 and 10 have no Amount
    auto has_amount = [](const Batch& b, std::size_t row) { return !b.column("Amount").is_null(row); };
    auto even_id = [](const Batch& b, std::span<std::uint8_t> pass) {
        const auto ids = b.column("tx_id").int64_values();
        for (std::size_t r = 0; r < pass.size(); ++r) pass[r] = ids[r] % 2 == 0;
    };
    auto pipeline = PipelineBuilder("predicates", dir.path() / "storage")
                        .source("tx", inferred_source(dir.path() / "landing"))
                        .table("raw", "tx", isoflow::TableOptions{.quality = "bronze", .stored = false})
                        .table("clean", "raw",
                               isoflow::expect_or_drop("has_amount", has_amount) | isoflow::where("tx_id < 12") |
                                   isoflow::expect_or_quarantine("even_id", even_id))
                        .build();
    pipeline.run_once();

    // What the stages should do, worked out from the data's definition.
    std::uint64_t amount_pass = 0, amount_fail = 0, even_pass = 0, even_fail = 0;
    std::vector<std::int64_t> kept, quarantined;
    for (std::int64_t id = 0; id < 14; ++id) {
        const bool amount = id % 7 != 3;
        (amount ? amount_pass : amount_fail) += 1;
        if (!amount || id >= 12) continue;
        (id % 2 == 0 ? even_pass : even_fail) += 1;
        (id % 2 == 0 ? kept : quarantined).push_back(id);
    }
    CHECK(sorted_ids(pipeline.store(), "clean") == kept);
    CHECK(sorted_ids(pipeline.store(), "clean_quarantine") == quarantined);
    const auto q = pipeline.store().read_table("clean_quarantine");
    for (std::size_t r = 0; r < q.num_rows(); ++r) CHECK(q.column("_failed_expectations").string_at(r) == "[\"even_id\"]");

    const std::string expected_quality =
        R"({"dataset":"clean","expectations":[{"name":"has_amount","passed_records":)" + std::to_string(amount_pass) +
        R"(,"failed_records":)" + std::to_string(amount_fail) + R"(},{"name":"even_id","passed_records":)" +
        std::to_string(even_pass) + R"(,"failed_records":)" + std::to_string(even_fail) +
        R"(}],"dropped_records":)" + std::to_string(amount_fail + even_fail) +
        R"(,"quarantined_records":)" + std::to_string(even_fail) + "}";
    bool logged = false;
    for (const auto& e : pipeline.store().events_after(0, 100000))
        if (e.event_type == "flow_progress" && e.origin.table == "clean") {
            INFO(e.details);
            CHECK(contains(e.details, R"("data_quality":)" + expected_quality));
            logged = true;
        }
    CHECK(logged);
    const auto totals = pipeline.expectation_totals();
    REQUIRE(totals.size() == 1);
    CHECK(totals[0].to_json() == expected_quality);
}

TEST_CASE("map stages transform batches, a declared output schema is checked on every batch", "[pipeline][stages][map]") {
    TempDir dir("pipeline_stage_map");
    write_landing_file(dir.path() / "landing", 0, 0, 14);
    auto add_cents = [](Batch b) {
        isoflow::Column cents(DataType::int64);
        const auto& amount = b.column("Amount");
        for (std::size_t r = 0; r < b.num_rows(); ++r) {
            if (amount.is_null(r)) cents.append_null();
            else cents.append_int64(static_cast<std::int64_t>(amount.double_values()[r] * 100));
        }
        b.add_column("cents", std::move(cents));
        return b;
    };
    auto cents_schema = [](const Schema& in) {
        Schema out = in;
        out.add(Field{"cents", DataType::int64, true});
        return out;
    };
    SECTION("a map stage with and without a declared schema") {
        auto pipeline = PipelineBuilder("map", dir.path() / "storage")
                            .source("tx", inferred_source(dir.path() / "landing"))
                            .table("declared", "tx",
                                   isoflow::map("cents", add_cents, cents_schema) | isoflow::where("cents >= 3000") |
                                       isoflow::select({"tx_id", "cents"}))
                            .table("undeclared", "tx", isoflow::map("cents", add_cents) | isoflow::select({"tx_id", "cents"}))
                            .build();
        pipeline.run_once();
        std::vector<std::int64_t> expected;
        for (std::int64_t id = 0; id < 14; ++id)
            if (id % 7 != 3 && (10 + id % 50) * 100 >= 3000) expected.push_back(id);
        CHECK(sorted_ids(pipeline.store(), "declared") == expected);
        const auto all = pipeline.store().read_table("undeclared");
        REQUIRE(all.num_rows() == 14);
        for (std::size_t r = 0; r < all.num_rows(); ++r) {
            const auto id = all.column("tx_id").int64_values()[r];
            CHECK(all.column("cents").is_null(r) == (id % 7 == 3));
            if (id % 7 != 3) CHECK(all.column("cents").int64_values()[r] == (10 + id % 50) * 100);
        }
    }
    SECTION("a map stage that returns other columns than it declares fails the batch") {
        auto pipeline = PipelineBuilder("map_wrong", dir.path() / "storage")
                            .source("tx", inferred_source(dir.path() / "landing"))
                            .table("t", "tx", isoflow::map("liar", [](Batch b) { return b; }, cents_schema))
                            .build();
        const std::string m = message_of([&] { pipeline.run_once(); });
        CHECK(contains(m, "stage 1 (map 'liar')"));
        CHECK(contains(m, "cents"));
        for (const auto& t : pipeline.store().row_counts()) CHECK(t.rows == 0);
        CHECK(!pipeline.store().last_committed_batch().has_value());
    }
}

TEST_CASE("a builder-made pipeline and the same pipeline in JSON give identical tables", "[pipeline][stages]") {
    TempDir dir("pipeline_stage_json");
    write_model(dir.path() / "model.iforest");
    for (int f = 0; f < 5; ++f) write_landing_file(dir.path() / "landing", f, f * 10, 10);
    std::string text = pipeline_json();
    text.replace(text.find("\"storage\""), 20, "\"storage\": \"json_st\"");
    REQUIRE(contains(text, "\"storage\": \"json_st\","));
    std::ofstream(dir / "pipeline.json") << text;
    auto from_json = isoflow::Pipeline::from_file(dir / "pipeline.json");
    from_json.run_once();

    auto built = PipelineBuilder("test", dir.path() / "built_st")
                     .source("tx", inferred_source(dir.path() / "landing"))
                     .table("raw", "tx", isoflow::TableOptions{.quality = "bronze"})
                     .table("clean", "raw", isoflow::TableOptions{.quality = "silver"},
                            isoflow::expect_or_drop("valid", "AMOUNT IS NOT NULL OR TIME IS NOT NULL"))
                     .table("scored", "clean", isoflow::TableOptions{.quality = "gold"},
                            isoflow::score((dir.path() / "model.iforest").string()) |
                                isoflow::select({"tx_id", "Amount", "anomaly_score", "is_anomaly", "model_version"}))
                     .build();
    built.run_once();
    for (const std::string table : {"raw", "clean", "scored"}) {
        INFO("table " << table);
        const auto a = from_json.store().read_table(table);
        CHECK(a.num_rows() > 0);
        check_same_rows(a, built.store().read_table(table));
    }
    REQUIRE(from_json.expectation_totals().size() == 1);
    CHECK(from_json.expectation_totals()[0] == built.expectation_totals()[0]);
}

TEST_CASE("every mistake in a C++ pipeline is a clear error when it is built", "[pipeline][stages][config]") {
    TempDir dir("pipeline_stage_errors");
    write_model(dir.path() / "model.iforest");
    const fs::path landing = dir.path() / "landing";
    const fs::path storage = dir.path() / "storage";
    const std::string model = (dir.path() / "model.iforest").string();
    using isoflow::expect_or_drop;
    using isoflow::select;
    using isoflow::where;
    auto declared = [&] { return PipelineBuilder("p", storage).source("tx", declared_source(landing)); };

    SECTION("tables that name nothing, cycles and names used twice") {
        std::string m = config_error_of([&] { (void)declared().table("raw", "tx").table("t", "nope").build(); });
        CHECK(contains(m, "table 't' reads from 'nope', which is neither a source nor a table"));
        CHECK(contains(m, "known: tx, raw, t"));
        m = config_error_of([&] { (void)declared().table("a", "b").table("b", "a").build(); });
        CHECK(contains(m, "cycle"));
        m = config_error_of([&] { (void)declared().table("a", "tx").table("A", "tx").build(); });
        CHECK(contains(m, "used twice"));
        m = config_error_of([&] { (void)declared().table("tx", "tx").build(); });
        CHECK(contains(m, "used twice"));
    }
    SECTION("unknown columns and type errors, naming the table, the stage and the column") {
        std::string m = config_error_of([&] { (void)declared().table("t", "tx", where("Amout > 0")).build(); });
        CHECK(contains(m, "table 't', stage 1 (where)"));
        CHECK(contains(m, "unknown column 'Amout'"));
        CHECK(contains(m, "did you mean 'Amount'"));
        CHECK(contains(m, "source 'tx' declares its schema"));
        m = config_error_of([&] {
            (void)declared().table("t", "tx", where("Amount > 0") | select({"tx_id", "Tyme"})).build();
        });
        CHECK(contains(m, "table 't', stage 2 (select)"));
        CHECK(contains(m, "unknown column 'Tyme'"));
        CHECK(contains(m, "did you mean 'Time'"));
        m = config_error_of([&] {
            (void)declared().table("t", "tx", select({"tx_id"}) | expect_or_drop("positive", "Amount > 0")).build();
        });
        CHECK(contains(m, "table 't'"));
        CHECK(contains(m, "expectation 'positive'"));
        CHECK(contains(m, "unknown column 'Amount'"));
        m = config_error_of([&] { (void)declared().table("t", "tx", where("Amount + 1")).build(); });
        CHECK(contains(m, "table 't', stage 1 (where)"));
        CHECK(contains(m, "boolean"));
        m = config_error_of([&] { (void)declared().table("t", "tx", select({"tx_id", "V1"}) | isoflow::score(model)).build(); });
        CHECK(contains(m, "table 't', stage 2 (score"));
        CHECK(contains(m, "feature 'V2'"));
        m = config_error_of([&] {
            (void)declared().table("t", "tx", select({"tx_id", "CAST(V2 AS STRING) AS V2", "V1", "Amount"}) | isoflow::score(model)).build();
        });
        CHECK(contains(m, "feature 'V2' is a string column"));
        // A later table is checked against what the earlier one outputs.
        m = config_error_of([&] {
            (void)declared().table("silver", "tx", select({"tx_id"})).table("gold", "silver", where("Amount > 0")).build();
        });
        CHECK(contains(m, "table 'gold', stage 1 (where)"));
        CHECK(contains(m, "unknown column 'Amount'"));
        // Nothing ran and nothing was made.
        CHECK(!fs::exists(storage));
    }
    SECTION("a map stage's declared output schema is what later stages are checked against") {
        auto drop_amount = [](Batch b) {
            Batch out;
            for (std::size_t c = 0; c < b.num_columns(); ++c)
                if (b.schema().field(c).name != "Amount") out.add_column(b.schema().field(c), b.column(c));
            return out;
        };
        auto without_amount = [](const Schema& in) {
            Schema out;
            for (const auto& f : in.fields())
                if (f.name != "Amount") out.add(f);
            return out;
        };
        const std::string m = config_error_of([&] {
            (void)declared()
                .table("t", "tx", isoflow::map("drop_amount", drop_amount, without_amount) | where("Amount > 0"))
                .build();
        });
        CHECK(contains(m, "table 't', stage 2 (where)"));
        CHECK(contains(m, "unknown column 'Amount'"));
        // Without a declared output schema what follows is checked at the first batch instead.
        CHECK_NOTHROW((void)declared().table("t", "tx", isoflow::map("drop_amount", drop_amount) | where("Amount > 0")).build());
    }
    SECTION("the columns the reader adds, quarantine tables, and what is right, pass") {
        auto pipeline = declared()
                            .table("t", "tx",
                                   where("_source_line > 0 AND _source_file IS NOT NULL AND _rescued_data IS NULL") |
                                       isoflow::expect_or_quarantine("positive", "Amount > 0") |
                                       isoflow::score(model) | select({"tx_id", "anomaly_score"}))
                            .table("q", "t_quarantine", select({"tx_id", "_failed_expectations"}))
                            .build();
        write_landing_file(landing, 0, 0, 7);
        pipeline.run_once();
        std::vector<std::int64_t> positive, not_positive;
        for (std::int64_t id = 0; id < 7; ++id) (id % 7 == 3 ? not_positive : positive).push_back(id);
        CHECK(sorted_ids(pipeline.store(), "t") == positive);
        CHECK(sorted_ids(pipeline.store(), "q") == not_positive);
        const std::string m = config_error_of([&] {
            (void)declared()
                .table("t", "tx", isoflow::expect_or_quarantine("positive", "Amount > 0"))
                .table("q", "t_quarantine", select({"_failed_expectation"}))
                .build();
        });
        CHECK(contains(m, "table 'q', stage 1 (select)"));
        CHECK(contains(m, "did you mean '_failed_expectations'"));
    }
    SECTION("expectation stages: a name used twice, two stages that quarantine") {
        std::string m = config_error_of([&] {
            (void)declared()
                .table("t", "tx", expect_or_drop("e", "Amount > 0") | where("V1 > 0") | expect_or_drop("e", "V2 > 0"))
                .build();
        });
        CHECK(contains(m, "expectation 'e' is defined twice on table 't'"));
        m = config_error_of([&] {
            (void)declared()
                .table("t", "tx",
                       isoflow::expect_or_quarantine("a", "Amount > 0") | where("V1 > 0") |
                           isoflow::expect_or_quarantine("b", "V2 > 0"))
                .build();
        });
        CHECK(contains(m, "quarantines rows in two expectation stages (stage 1 and stage 3)"));
        // Next to each other they are one group, which may quarantine.
        CHECK_NOTHROW((void)declared()
                          .table("t", "tx",
                                 isoflow::expect_or_quarantine("a", "Amount > 0") | isoflow::expect_or_quarantine("b", "V2 > 0"))
                          .build());
    }
    SECTION("syntax errors, and stages given twice") {
        try {
            (void)declared().table("t", "tx", where("Amount >")).build();
            FAIL("expected a parse_error");
        } catch (const isoflow::parse_error& e) {
            CHECK(contains(e.what(), "table 't', stage 1 (where)"));
        }
        try {
            (void)declared().table("t", "tx", select({"tx_id AS"})).build();
            FAIL("expected a parse_error");
        } catch (const isoflow::parse_error& e) {
            CHECK(contains(e.what(), "table 't', stage 1 (select)"));
        }
        isoflow::TableSpec both;
        both.name = "t";
        both.from = "tx";
        both.where = "Amount > 0";
        both.stages = isoflow::to_stages(select({"tx_id"}));
        const std::string m = config_error_of([&] { (void)declared().table(both).build(); });
        CHECK(contains(m, "table 't' has both stages and where/score/select/expectations"));
    }
    SECTION("with an inferred schema the same mistake stops the first batch, before it commits") {
        write_landing_file(landing, 0, 0, 7);
        auto pipeline = PipelineBuilder("p", storage)
                            .source("tx", inferred_source(landing))
                            .table("raw", "tx")
                            .table("t", "raw", where("Amout > 0"))
                            .build();
        try {
            pipeline.run_once();
            FAIL("expected a schema_error");
        } catch (const isoflow::schema_error& e) {
            CHECK(contains(e.what(), "table 't', stage 1 (where)"));
            CHECK(contains(e.what(), "did you mean 'Amount'"));
        }
        for (const auto& t : pipeline.store().row_counts()) CHECK(t.rows == 0);
        CHECK(!pipeline.store().last_committed_batch().has_value());
    }
}
