// isoflow::Pipeline: sources -> bronze -> silver -> gold tables, run in micro-batches, stored
// in one SQLite file, exactly once across crashes.
//
// One micro-batch is one plan of one source (which files). The plan is recorded durably, the
// rows are read and go through every table, then every stored table's rows, the source's seen
// files and the batch's "committed" mark commit in one SQLite transaction. A restart replays an
// uncommitted plan with the same files and checks the model is the same.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/forest/isolation_forest.hpp"
#include "isoflow/io/file_source.hpp"
#include "isoflow/pipeline/spec.hpp"
#include "isoflow/pipeline/stages.hpp"
#include "isoflow/quality/detail/parser.hpp"
#include "isoflow/quality/expectation.hpp"
#include "isoflow/quality/expression.hpp"
#include "isoflow/store/sinks.hpp"
#include "isoflow/store/sqlite_store.hpp"
#include "isoflow/pipeline/store_seen_file_log.hpp"

namespace isoflow {

namespace detail::pipeline {

[[nodiscard]] inline std::string hex64(std::uint64_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = digits[v & 15];
    return out;
}

[[nodiscard]] inline std::string json_string(std::string_view s) {
    std::string out;
    json::write_string(out, s);
    return out;
}

// The scoring stage: the model's features matched to columns by name, case-insensitively.
class Scorer {
public:
    // `label` says where the stage is in messages: "table 'gold', stage 2 (score model.iforest)".
    Scorer(const std::string& path, std::string label) : path_(path), label_(std::move(label)) {
        const std::string bytes = read_whole_file(path);
        checksum_ = hex64(fnv1a(bytes.data(), bytes.size()));
        model_ = ends_with_json(path) ? IsolationForest<float>::from_json(bytes, path)
                                      : IsolationForest<float>::from_bytes(bytes, path);
        if (model_.feature_names_in().empty())
            throw_error<config_error>(label_ + ": the model " + path +
                                      " has no feature names; train it with named columns so that "
                                      "the pipeline can match them");
        version_ = std::filesystem::path(path).filename().string() + "@" + checksum_.substr(0, 12);
    }

    [[nodiscard]] const std::string& checksum() const noexcept { return checksum_; }

    // Why a batch of `schema` cannot be scored (a missing or non-numeric feature, an output
    // column already there), or nothing.
    [[nodiscard]] std::optional<std::string> problem(const Schema& schema) const {
        for (const auto& name : model_.feature_names_in()) {
            const auto i = schema.find(name);
            if (!i)
                return label_ + ": the model's feature '" + name + "' is not a column of its input" +
                       schema.suggestions(name);
            const DataType type = schema.field(*i).type;
            if (type != DataType::int64 && type != DataType::float64)
                return label_ + ": the model's feature '" + name + "' is a " + std::string(to_string(type)) +
                       " column; expected a number";
        }
        for (auto* name : {"anomaly_score", "is_anomaly", "model_version"})
            if (schema.find(name)) return label_ + ": its input already has a column '" + std::string(name) + "'";
        return std::nullopt;
    }

    [[nodiscard]] Schema output_schema(const Schema& input) const {
        if (auto p = problem(input)) throw_error<schema_error>(*p);
        Schema out = input;
        out.add(Field{"anomaly_score", DataType::float64, true});
        out.add(Field{"is_anomaly", DataType::boolean, true});
        out.add(Field{"model_version", DataType::string, true});
        return out;
    }

    // Adds anomaly_score, is_anomaly and model_version. A null feature value follows the larger
    // child at each split on it; such rows are counted.
    [[nodiscard]] Batch apply(Batch batch, std::uint64_t& rows_with_missing) const {
        if (auto p = problem(batch.schema())) throw_error<schema_error>(*p);
        const auto& names = model_.feature_names_in();
        std::vector<const Column*> columns;
        for (const auto& name : names) columns.push_back(&batch.column(*batch.schema().find(name)));
        const auto n = batch.num_rows();
        Eigen::VectorXd s;
        if (n > 0) s = score_rows(columns, n, rows_with_missing);
        Column scores(DataType::float64), flags(DataType::boolean), versions(DataType::string);
        scores.reserve(n);
        flags.reserve(n);
        versions.reserve(n);
        for (std::size_t r = 0; r < n; ++r) {
            const double v = s(static_cast<Eigen::Index>(r));
            scores.append_double(-v);  // the paper's score: higher is more anomalous
            flags.append_bool(v - model_.offset() < 0.0);
            versions.append_string(version_);
        }
        batch.add_column("anomaly_score", std::move(scores));
        batch.add_column("is_anomaly", std::move(flags));
        batch.add_column("model_version", std::move(versions));
        return batch;
    }

private:
    // scikit-learn's score_samples of the rows; a null is NaN (it follows the larger child).
    [[nodiscard]] Eigen::VectorXd score_rows(const std::vector<const Column*>& columns, std::size_t n,
                                        std::uint64_t& rows_with_missing) const {
        std::vector<std::uint8_t> missing(n, 0);
        const bool all_double = std::all_of(columns.begin(), columns.end(),
                                            [](const Column* c) { return c->type() == DataType::float64; });
        if (all_double) {
            // Scored in place, column by column; only a column with nulls is copied, with NaN.
            std::vector<std::vector<double>> copies;
            copies.reserve(columns.size());
            std::vector<const double*> data;
            for (const Column* c : columns) {
                const double* values = c->double_values().data();
                if (c->null_count() > 0) {
                    auto& copy = copies.emplace_back(values, values + n);
                    for (std::size_t r = 0; r < n; ++r)
                        if (c->is_null(r)) copy[r] = std::numeric_limits<double>::quiet_NaN();
                    values = copy.data();
                }
                for (std::size_t r = 0; r < n; ++r) missing[r] |= static_cast<std::uint8_t>(std::isnan(values[r]));
                data.push_back(values);
            }
            for (auto m : missing) rows_with_missing += m;
            return model_.score_columns(std::span<const double* const>(data), n);
        }
        // int64 features: each value converts to float directly, as scikit-learn's cast does.
        RowMatrix<float> X(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(columns.size()));
        for (std::size_t k = 0; k < columns.size(); ++k) {
            const Column& c = *columns[k];
            for (std::size_t r = 0; r < n; ++r) {
                float v;
                if (c.is_null(r)) {
                    v = std::numeric_limits<float>::quiet_NaN();
                    missing[r] = 1;
                } else {
                    v = c.type() == DataType::int64 ? static_cast<float>(c.int64_values()[r])
                                                    : static_cast<float>(c.double_values()[r]);
                    if (std::isnan(v)) missing[r] = 1;
                }
                X(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(k)) = v;
            }
        }
        for (auto m : missing) rows_with_missing += m;
        return model_.score_samples(X);
    }

    std::string path_, label_, checksum_, version_;
    IsolationForest<float> model_;
};

// What the stages of one table hand back to the pipeline besides the rows.
struct StepContext {
    std::uint64_t missing_feature_rows = 0;
    std::optional<DatasetMetrics> metrics;  // set when the table has expectations
    std::optional<Batch> quarantine;        // rows for <table>_quarantine
};

// The syntax of a select list, without a schema (Projection::compile checks the rest).
inline void check_select_syntax(std::string_view list, std::string_view origin) {
    Parser parser(list, origin);
    for (;;) {
        if (parser.peek().is_symbol("*")) {
            parser.advance();
        } else {
            (void)parser.parse_expression();
            if (parser.peek().is_keyword("as")) {
                parser.advance();
                if (!parser.take_name())
                    parser.fail(parser.peek(), "expected a column name after AS but found " + describe(parser.peek()));
            } else {
                (void)parser.take_name();
            }
        }
        if (parser.at_end()) return;
        if (!parser.peek().is_symbol(","))
            parser.fail(parser.peek(), "expected ',' or the end of the select list but found " + describe(parser.peek()));
        parser.advance();
    }
}

// Each step compiles its stage for its input schema, again only when that schema changes.
// output_schema() says what comes out for a given input, throwing what run() would throw; it is
// empty when that cannot be known ahead (a map stage without a declared output schema).
class FilterStep {
public:
    FilterStep(std::string condition, std::string label) : condition_(std::move(condition)), label_(std::move(label)) {
        Parser parser(condition_, label_);
        if (parser.peek().is_keyword("where")) parser.advance();
        (void)parser.parse_expression();
        parser.expect_end();
    }
    [[nodiscard]] std::optional<Schema> output_schema(const Schema& input) {
        compile(input);
        return input;
    }
    [[nodiscard]] Batch run(Batch input, StepContext&) {
        compile(input.schema());
        const auto keep = filter_->mask(input);
        if (std::all_of(keep.begin(), keep.end(), [](std::uint8_t k) { return k != 0; })) return input;
        return input.filter(keep);
    }

private:
    void compile(const Schema& schema) {
        if (compiled_for_ && *compiled_for_ == schema) return;
        filter_ = Filter::compile(condition_, schema, label_);
        compiled_for_ = schema;
    }
    std::string condition_, label_;
    std::optional<Schema> compiled_for_;
    std::optional<Filter> filter_;
};

class SelectStep {
public:
    SelectStep(const std::vector<std::string>& items, std::string label) : label_(std::move(label)) {
        for (const auto& item : items) list_ += (list_.empty() ? "" : ", ") + item;
        check_select_syntax(list_, label_);
    }
    [[nodiscard]] std::optional<Schema> output_schema(const Schema& input) {
        compile(input);
        return projection_->output_schema();
    }
    [[nodiscard]] Batch run(Batch input, StepContext&) {
        compile(input.schema());
        return projection_->apply(input);
    }

private:
    void compile(const Schema& schema) {
        if (compiled_for_ && *compiled_for_ == schema) return;
        projection_ = Projection::compile(list_, schema, label_);
        compiled_for_ = schema;
    }
    std::string list_, label_;
    std::optional<Schema> compiled_for_;
    std::optional<Projection> projection_;
};

class ExpectStep {
public:
    ExpectStep(const std::string& table, const std::vector<Expectation>& group) : expectations_(table) {
        for (const auto& e : group) {
            expectations_.add(e);
            quarantines_ = quarantines_ || e.action() == ExpectationAction::quarantine;
        }
    }
    [[nodiscard]] bool quarantines() const noexcept { return quarantines_; }
    [[nodiscard]] const TableExpectations& expectations() const noexcept { return expectations_; }
    [[nodiscard]] std::optional<Schema> output_schema(const Schema& input) {
        expectations_.compile(input);
        return input;
    }
    // The schema of the quarantine rows this step makes from an input of `input`.
    [[nodiscard]] static Schema quarantine_schema(const Schema& input) {
        Schema out = input;
        if (!out.contains(kFailedExpectationsColumn))
            out.add(Field{std::string(kFailedExpectationsColumn), DataType::string, false});
        return out;
    }
    [[nodiscard]] Batch run(Batch input, StepContext& context) {
        auto result = expectations_.apply(std::move(input));
        if (context.metrics) *context.metrics += result.metrics;
        else context.metrics = std::move(result.metrics);
        if (result.quarantine.num_columns() > 0 && result.quarantine.num_rows() > 0)
            context.quarantine = std::move(result.quarantine);
        return std::move(result.output);
    }

private:
    TableExpectations expectations_;
    bool quarantines_ = false;
};

class ScoreStep {
public:
    explicit ScoreStep(std::shared_ptr<Scorer> scorer) : scorer_(std::move(scorer)) {}
    [[nodiscard]] std::optional<Schema> output_schema(const Schema& input) { return scorer_->output_schema(input); }
    [[nodiscard]] Batch run(Batch input, StepContext& context) {
        return scorer_->apply(std::move(input), context.missing_feature_rows);
    }

private:
    std::shared_ptr<Scorer> scorer_;
};

class MapStep {
public:
    MapStep(MapStage stage, std::string label) : stage_(std::move(stage)), label_(std::move(label)) {
        if (!stage_.fn) throw_error<config_error>(label_ + ": the map stage has no function");
    }
    [[nodiscard]] std::optional<Schema> output_schema(const Schema& input) {
        if (!stage_.output_schema) return std::nullopt;
        return stage_.output_schema(input);
    }
    [[nodiscard]] Batch run(Batch input, StepContext&) {
        if (stage_.output_schema && !(expected_for_ && *expected_for_ == input.schema())) {
            expected_ = stage_.output_schema(input.schema());
            expected_for_ = input.schema();
        }
        Batch out = stage_.fn(std::move(input));
        if (stage_.output_schema && !same_columns(out.schema(), *expected_))
            throw_error<schema_error>(label_ + ": the function returned the columns (" + out.schema().to_string() +
                                      ") but its output schema function says (" + expected_->to_string() + ")");
        return out;
    }

private:
    // Names and types in order; nullability is a column's business.
    [[nodiscard]] static bool same_columns(const Schema& a, const Schema& b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (a.field(i).name != b.field(i).name || a.field(i).type != b.field(i).type) return false;
        return true;
    }
    MapStage stage_;
    std::string label_;
    std::optional<Schema> expected_for_, expected_;
};

using Step = std::variant<FilterStep, SelectStep, ExpectStep, ScoreStep, MapStep>;

// One table's stages, in order, each compiled against its input schema.
struct TableRuntime {
    TableSpec spec;
    std::vector<Step> steps;
    std::vector<std::shared_ptr<Scorer>> scorers;  // in stage order
    bool has_expectations = false;
    DatasetMetrics totals;
    std::shared_ptr<Sink> sink;  // rows go here instead of pipeline.db
};

// Turns a table's stages into steps. Consecutive expectation stages form one group (they see the
// same rows); a table has one quarantine table, so only one group may quarantine, and an
// expectation name is used once per table, so that the table's metrics add up by name.
inline void make_steps(TableRuntime& t) {
    const std::vector<Stage> stages = table_stages(t.spec);
    std::vector<std::string> names;
    std::string quarantining;
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const std::string label = "table '" + t.spec.name + "', stage " + std::to_string(i + 1);
        if (const auto* e = std::get_if<ExpectStage>(&stages[i])) {
            std::vector<Expectation> group = e->expectations;
            std::size_t last = i;
            while (last + 1 < stages.size() && std::holds_alternative<ExpectStage>(stages[last + 1])) {
                for (const auto& x : std::get<ExpectStage>(stages[++last]).expectations) group.push_back(x);
            }
            const std::string where = last == i ? label : label + "-" + std::to_string(last + 1);
            for (const auto& x : group) {
                if (std::find(names.begin(), names.end(), x.name()) != names.end())
                    throw_error<config_error>(where + ": expectation '" + x.name() + "' is defined twice on table '" +
                                              t.spec.name + "': expectation names must be unique per table");
                names.push_back(x.name());
            }
            ExpectStep step(t.spec.name, group);
            if (step.quarantines()) {
                if (!quarantining.empty())
                    throw_error<config_error>(
                        "table '" + t.spec.name + "' quarantines rows in two expectation stages (" + quarantining +
                        " and " + where.substr(where.find("stage")) + "); a table has one quarantine table: "
                        "put the quarantining expectations in one stage, or next to each other");
                quarantining = where.substr(where.find("stage"));
            }
            t.steps.emplace_back(std::move(step));
            t.has_expectations = true;
            i = last;
            continue;
        }
        const std::string described = label + " (" + isoflow::describe(stages[i]) + ")";
        if (const auto* w = std::get_if<WhereStage>(&stages[i])) {
            t.steps.emplace_back(FilterStep(w->condition, described));
        } else if (const auto* s = std::get_if<SelectStage>(&stages[i])) {
            if (s->items.empty()) throw_error<config_error>(described + ": the select list is empty");
            t.steps.emplace_back(SelectStep(s->items, described));
        } else if (const auto* sc = std::get_if<ScoreStage>(&stages[i])) {
            auto scorer = std::make_shared<Scorer>(sc->model, described);
            t.scorers.push_back(scorer);
            t.steps.emplace_back(ScoreStep(std::move(scorer)));
        } else if (const auto* m = std::get_if<MapStage>(&stages[i])) {
            t.steps.emplace_back(MapStep(*m, described));
        }
    }
}

// The schema a source's batches will have, when its options fix it: a declared schema (with
// its hints) that no file can extend, then the columns the reader adds.
[[nodiscard]] inline std::optional<Schema> declared_schema(const FileSourceOptions& o) {
    if (!o.schema) return std::nullopt;
    if (o.schema_evolution_mode.value_or(SchemaEvolutionMode::none) == SchemaEvolutionMode::add_new_columns)
        return std::nullopt;
    auto fields = o.schema->fields();
    apply_hints(fields, parse_schema_hints(o.schema_hints));
    Schema out(std::move(fields));
    auto add = [&](const std::string& name, DataType type) {
        if (!out.contains(name)) out.add(Field{name, type, true});
    };
    if (!o.rescued_data_column.empty()) add(o.rescued_data_column, DataType::string);
    add(std::string(kSourceFileColumn), DataType::string);
    add(std::string(kSourceLineColumn), DataType::int64);  // the pipeline always asks for it
    return out;
}

[[nodiscard]] inline std::shared_ptr<Sink> make_sink(const TableSpec& t) {
    if (t.custom_sink) return t.custom_sink;
    if (!t.sink) return nullptr;
    if (t.sink->format == FileSinkSpec::Format::csv) return std::make_shared<CsvSink>(t.sink->path);
    return std::make_shared<JsonLinesSink>(t.sink->path);
}

}  // namespace detail::pipeline

// What one run did.
struct RunSummary {
    std::uint64_t batches = 0;
    std::uint64_t input_rows = 0;
    std::map<std::string, std::uint64_t> table_rows;  // rows written per table in this run
};

class Pipeline {
public:
    // Checks the definition (names, references, cycles, model files, and every stage's columns
    // and types where a source declares its schema) and opens the storage (a second process on
    // the same storage is refused). Nothing is read yet.
    explicit Pipeline(PipelineSpec spec) : spec_(std::move(spec)) {
        validate();
        SqliteStoreOptions options;
        options.busy_timeout = spec_.busy_timeout;
        store_ = std::make_shared<SqliteStore>(spec_.storage, options);
        for (const auto& t : tables_) {
            for (const auto& scorer : t.scorers) {
                if (!model_checksum_.empty() && model_checksum_ != scorer->checksum())
                    model_checksum_ += "+";
                model_checksum_ += scorer->checksum();
            }
        }
        open_sources();
    }

    // A mistake found while the pipeline is built (a column a stage does not have, a bad
    // expression) names the file too; mistakes in the file's text name their line and column.
    [[nodiscard]] static Pipeline from_file(const std::filesystem::path& file) {
        PipelineSpec spec = load_pipeline_spec(file);
        auto named = [&](const std::exception& e) {
            const std::string what = e.what();
            return what.starts_with(file.string()) ? what : file.string() + ": " + what;
        };
        try {
            return Pipeline(std::move(spec));
        } catch (const config_error& e) {
            detail::throw_error<config_error>(named(e));
        } catch (const parse_error& e) {
            detail::throw_error<parse_error>(named(e));
        } catch (const schema_error& e) {
            detail::throw_error<schema_error>(named(e));
        } catch (const model_error& e) {
            detail::throw_error<model_error>(named(e));
        } catch (const store_busy_error&) {
            throw;  // its own type tells the caller to retry
        } catch (const io_error& e) {  // a model file that cannot be read, storage that cannot be opened
            detail::throw_error<io_error>(named(e));
        }
    }

    [[nodiscard]] const PipelineSpec& spec() const noexcept { return spec_; }
    [[nodiscard]] Store& store() noexcept { return *store_; }

    // The expectations' metrics of every table that has expectations, added up over this
    // object's runs, in DLT's shape (DatasetMetrics::to_json).
    [[nodiscard]] std::vector<DatasetMetrics> expectation_totals() const {
        std::vector<DatasetMetrics> out;
        for (const auto& t : tables_)
            if (t.has_expectations) {
                DatasetMetrics m = t.totals;
                m.dataset = t.spec.name;
                out.push_back(std::move(m));
            }
        return out;
    }

    // Sends a table's rows (and its quarantine rows) to `sink` instead of pipeline.db, e.g. a
    // CallbackSink. Batch ids start at 1 and grow; a replayed batch arrives again with its id, so a
    // sink that cannot tell (a CallbackSink without `already_holds`) may see a batch twice.
    void attach_sink(std::string_view table, std::shared_ptr<Sink> sink) {
        if (!sink) detail::throw_error<config_error>("attach_sink: no sink given for table '" + std::string(table) + "'");
        for (auto& t : tables_)
            if (detail::iequals(t.spec.name, table)) {
                t.spec.custom_sink = sink;
                t.sink = std::move(sink);
                return;
            }
        std::string known;
        for (const auto& t : tables_) known += (known.empty() ? "" : ", ") + t.spec.name;
        detail::throw_error<config_error>("attach_sink: no table '" + std::string(table) + "' (tables: " + known + ")");
    }

    // Empties every table and the checkpoint, so that the next run reprocesses everything.
    // Batch ids start again at 1, so the files of file sinks are removed too.
    void full_refresh() {
        for (const auto& t : tables_)
            if (const auto* files = dynamic_cast<const FileSink*>(t.sink.get())) {
                for (const std::string& name : {t.spec.name, t.spec.name + "_quarantine"}) {
                    std::error_code ec;
                    std::filesystem::remove_all(files->folder() / name, ec);
                    if (ec)
                        detail::throw_error<io_error>("full refresh: cannot empty sink folder '" +
                                                      (files->folder() / name).string() + "': " + ec.message());
                }
            }
        store_->reset();
        for (auto& t : tables_) t.totals = {};
        open_sources();
        event("", std::nullopt, "INFO", "update_progress", "full refresh: tables and checkpoint emptied",
              R"({"update_progress":{"state":"RESETTING"}})");
    }

    // Processes everything available, in micro-batches bounded by the source limits, then
    // returns (triggered mode). `stop` ends the run after the current batch.
    RunSummary run_once(const std::atomic<bool>* stop = nullptr) { return run(false, stop); }

    // Keeps processing new files until `stop` is set; then finishes the current batch.
    RunSummary run_continuous(const std::atomic<bool>& stop,
                              std::chrono::milliseconds idle_wait = std::chrono::milliseconds(5)) {
        idle_wait_ = idle_wait;
        return run(true, &stop);
    }

private:
    void validate() {
        if (spec_.name.empty()) detail::throw_error<config_error>("the pipeline has no name");
        std::map<std::string, std::string> kinds;  // lower-case name -> "source" | "table"
        auto claim = [&](const std::string& name, const char* kind) {
            const auto key = detail::to_lower(name);
            if (auto it = kinds.find(key); it != kinds.end())
                detail::throw_error<config_error>("the name '" + name + "' is used twice (as a " + it->second +
                                                  " and as a " + kind + ")");
            kinds.emplace(key, kind);
        };
        for (const auto& [name, options] : spec_.sources) claim(name, "source");
        for (const auto& t : spec_.tables) {
            claim(t.name, "table");
            claim(t.name + "_quarantine", "quarantine table");
        }
        // Topological order; a `from` that is neither a source nor a table is an error, and so
        // is a cycle.
        std::vector<TableSpec> pending = spec_.tables;
        std::map<std::string, bool> ready;
        for (const auto& [name, options] : spec_.sources) ready[detail::to_lower(name)] = true;
        for (const auto& t : spec_.tables) {
            if (kinds.count(detail::to_lower(t.from))) continue;
            std::string known;
            for (const auto& [name, options] : spec_.sources) known += (known.empty() ? "" : ", ") + name;
            for (const auto& other : spec_.tables) known += (known.empty() ? "" : ", ") + other.name;
            detail::throw_error<config_error>("table '" + t.name + "' reads from '" + t.from +
                                              "', which is neither a source nor a table (known: " + known + ")");
        }
        while (!pending.empty()) {
            auto it = std::find_if(pending.begin(), pending.end(),
                                   [&](const TableSpec& t) { return ready.count(detail::to_lower(t.from)) > 0; });
            if (it == pending.end()) {
                std::string cycle;
                for (const auto& t : pending) cycle += (cycle.empty() ? "" : ", ") + t.name + " <- " + t.from;
                detail::throw_error<config_error>("the tables form a cycle: " + cycle);
            }
            detail::pipeline::TableRuntime runtime;
            runtime.spec = *it;
            if ((it->sink || it->custom_sink) && !it->stored)
                detail::throw_error<config_error>("table '" + it->name +
                                                  "' has a sink and \"stored\": false; a sink stores the table "
                                                  "(remove one of them)");
            runtime.sink = detail::pipeline::make_sink(*it);
            detail::pipeline::make_steps(runtime);
            ready[detail::to_lower(it->name)] = true;
            ready[detail::to_lower(it->name + "_quarantine")] = true;
            tables_.push_back(std::move(runtime));
            pending.erase(it);
        }
        check_schemas_ahead();
    }

    // Where a source declares its schema, every table it feeds is compiled now, stage by stage,
    // so that an unknown column or a type error stops the pipeline before anything runs. A table
    // whose input is not known ahead (an inferred schema, a map stage without an output schema)
    // is checked at its first batch instead, before anything of that batch is committed.
    void check_schemas_ahead() {
        struct Known {
            Schema schema;
            std::string source;
        };
        std::map<std::string, Known> known;  // lower-case source or table name
        for (const auto& [name, options] : spec_.sources)
            if (auto schema = detail::pipeline::declared_schema(options))
                known.emplace(detail::to_lower(name), Known{std::move(*schema), name});
        for (auto& t : tables_) {
            const auto in = known.find(detail::to_lower(t.spec.from));
            if (in == known.end()) continue;
            const std::string source = in->second.source;
            std::optional<Schema> schema = in->second.schema;
            try {
                for (auto& step : t.steps) {
                    if (auto* e = std::get_if<detail::pipeline::ExpectStep>(&step); e && e->quarantines())
                        known.insert_or_assign(detail::to_lower(t.spec.name + "_quarantine"),
                                               Known{detail::pipeline::ExpectStep::quarantine_schema(*schema), source});
                    schema = std::visit([&](auto& s) { return s.output_schema(*schema); }, step);
                    if (!schema) break;
                }
            } catch (const error& e) {
                detail::throw_error<config_error>(std::string(e.what()) + "\n  (checked when the pipeline was built: source '" +
                                                  source + "' declares its schema)");
            }
            if (schema) known.insert_or_assign(detail::to_lower(t.spec.name), Known{std::move(*schema), source});
        }
    }

    // A continuous run watches its sources (inotify) so that a file renamed or closed in the
    // landing directory is taken within milliseconds instead of after the settle time. A source
    // the definition says polls (spec_.polling_sources: "use_notifications": false) is left as
    // it is. The spec is not changed: a triggered run after a continuous one lists again. True
    // when the sources must be opened again for the run to come.
    bool watch_for(bool continuous) {
        const bool want = continuous && spec_.notifications_when_continuous;
        if (want == watching_) return false;
        watching_ = want;
        return std::any_of(spec_.sources.begin(), spec_.sources.end(),
                           [&](const auto& source) { return watched(source.first, source.second) != source.second.use_notifications; });
    }
    // Whether the run's source `name` uses notifications.
    [[nodiscard]] bool watched(const std::string& name, const FileSourceOptions& options) const {
        if (options.use_notifications || !watching_) return options.use_notifications;
        return std::none_of(spec_.polling_sources.begin(), spec_.polling_sources.end(),
                            [&](const std::string& p) { return detail::iequals(p, name); });
    }

    void open_sources() {
        drop_read_ahead();
        reopen_after_commit_ = false;
        sources_.clear();
        for (const auto& [name, options] : spec_.sources) {
            auto log = std::make_shared<StoreSeenFileLog>(store_, name);
            FileSourceOptions o = options;
            o.read.add_source_line = true;
            o.use_notifications = watched(name, options);
            // A landing directory that does not exist yet is made, so that a continuous pipeline
            // can start before the first file arrives.
            std::error_code ec;
            if (!std::filesystem::exists(o.path, ec)) std::filesystem::create_directories(o.path, ec);
            sources_.emplace_back(name, std::make_unique<FileSource>(o, log));
        }
    }

    // Appends an event. In production mode an event that meets a busy database outside a batch
    // waits in memory (with its time) and is written before the next one, so that logging never
    // fails a batch that a retry would save.
    void event(const std::string& table, std::optional<std::uint64_t> batch, const std::string& level,
               const std::string& type, const std::string& message, const std::string& details) {
        Event e;
        e.origin = EventOrigin{spec_.name, table, batch};
        e.timestamp = detail::store::now_iso_millis();
        e.level = level;
        e.event_type = type;
        e.message = message;
        e.details = details;
        const bool may_defer = spec_.mode == PipelineMode::production && !store_->in_batch();
        try {
            if (!store_->in_batch()) flush_deferred_events();
            store_->append_event(e);
        } catch (const store_busy_error&) {
            if (!may_defer) throw;
            deferred_events_.push_back(std::move(e));
        }
    }

    void flush_deferred_events() {
        while (!deferred_events_.empty()) {
            store_->append_event(deferred_events_.front());
            deferred_events_.erase(deferred_events_.begin());
        }
    }

    // The source's notices (a file rewritten after it was read, with allow_overwrites false; a
    // file that could not be read) as WARN events, so that they are seen and do not pile up.
    // A notice for a file of `already_logged` (the batch's failed files) is not logged twice.
    void log_notices(const std::string& source_name, FileSource& source, std::optional<std::uint64_t> batch,
                     const std::vector<SkippedFile>& already_logged) {
        for (const auto& notice : source.take_notices()) {
            const bool logged = std::any_of(already_logged.begin(), already_logged.end(), [&](const SkippedFile& f) {
                return f.file == notice.file && f.reason == notice.message;
            });
            if (logged) continue;
            event(source_name, batch, "WARN", "source_notice", notice.file + ": " + notice.message,
                  R"({"file":)" + detail::pipeline::json_string(notice.file) + R"(,"notice":)" +
                      detail::pipeline::json_string(notice.message) + "}");
        }
    }

    void progress(const std::string& state, const std::string& message) {
        event("", std::nullopt, state == "FAILED" ? "ERROR" : "INFO", "update_progress", message,
              R"({"update_progress":{"state":")" + state + R"("}})");
    }

    // Runs the stages of one table over its input, in order.
    Batch run_table(detail::pipeline::TableRuntime& t, Batch input, std::map<std::string, Batch>& outputs,
                    std::uint64_t& missing_feature_rows) {
        detail::pipeline::StepContext context;
        Batch out = std::move(input);
        for (auto& step : t.steps) out = std::visit([&](auto& s) { return s.run(std::move(out), context); }, step);
        missing_feature_rows += context.missing_feature_rows;
        if (context.metrics) last_metrics_[t.spec.name] = std::move(*context.metrics);  // added to the totals once committed
        if (context.quarantine) outputs[t.spec.name + "_quarantine"] = std::move(*context.quarantine);
        return out;
    }

    // One micro-batch of one source. Returns false when the source had nothing.
    bool run_batch(std::size_t source_index, RunSummary& summary) {
        auto& [source_name, source] = sources_[source_index];
        failing_table_.clear();
        failing_batch_.reset();
        const auto plan = source->plan();
        log_notices(source_name, *source, std::nullopt, {});
        if (!plan) return false;
        const auto started = std::chrono::steady_clock::now();

        // The pipeline's batch id: the planned one when this replays it, else one above every id
        // ever planned, so that a sink never mistakes this batch for another one's leftovers.
        std::uint64_t batch_id = 1;
        if (const auto newest = store_->last_batches(1); !newest.empty()) batch_id = newest.front().batch_id + 1;
        std::string plan_json = R"({"source":)" + detail::pipeline::json_string(source_name) +
                                R"(,"source_batch_id":)" + std::to_string(plan->batch_id) + R"(,"files":[)";
        std::uint64_t bytes = 0;
        for (std::size_t i = 0; i < plan->files.size(); ++i) {
            plan_json += (i ? "," : "") + detail::pipeline::json_string(plan->files[i].path);
            bytes += plan->files[i].size;
        }
        plan_json += "]}";
        std::optional<BatchRecord> pending;
        for (auto& b : store_->last_batches(16))
            if (b.state == BatchState::planned && b.plan == plan_json) {
                pending = std::move(b);
                break;
            }
        failing_table_ = source_name;
        failing_batch_ = pending ? pending->batch_id : batch_id;
        if (pending) {
            batch_id = pending->batch_id;
            if (pending->model_checksum != model_checksum_)
                detail::throw_error<config_error>(
                    "batch " + std::to_string(batch_id) + " was planned with model checksum " +
                    pending->model_checksum + " but the model files now give " + model_checksum_ +
                    "; restore the model to replay the batch exactly, or run with --full-refresh");
        }
        store_->record_plan(batch_id, plan_json, model_checksum_);

        SourceBatch input = read_planned(source_index, *source, *plan);
        // This batch's notices, before the read-ahead's listing finds the next batch's.
        log_notices(source_name, *source, batch_id, input.failed_files);
        // The next batch's files are parsed on another thread while this one goes through the
        // tables and into SQLite (the writer is the bottleneck; parsing is the next cost).
        start_read_ahead(source_index, *source);
        for (const auto& change : input.stats.schema_changes) {
            std::string added;
            for (const auto& f : change.added)
                added += (added.empty() ? "" : ",") + std::string(R"({"name":)") + detail::pipeline::json_string(f.name) +
                         R"(,"type":")" + std::string(to_string(f.type)) + R"("})";
            event(source_name, batch_id, "INFO", "schema_change", "new columns in " + change.file,
                  R"({"file":)" + detail::pipeline::json_string(change.file) + R"(,"added":[)" + added + "]}");
        }
        for (const auto& skipped : input.stats.skipped_files)
            event(source_name, batch_id, "WARN", "error", skipped.file + ": " + skipped.reason,
                  R"({"file":)" + detail::pipeline::json_string(skipped.file) + "}");
        for (const auto& failed : input.failed_files)
            event(source_name, batch_id, "WARN", "error", failed.file + ": " + failed.reason,
                  R"({"file":)" + detail::pipeline::json_string(failed.file) + "}");

        const std::uint64_t source_rows = input.data.num_rows();
        // A batch read by one table only, and not kept for the store or a sink, moves into its
        // reader instead of being copied (whole batches are the largest copies of a run).
        std::map<std::string, int> readers;
        for (const auto& t : tables_) ++readers[detail::to_lower(t.spec.from)];
        std::map<std::string, Batch> outputs;
        std::map<std::string, std::uint64_t> input_rows, output_rows, missing;
        last_metrics_.clear();
        for (auto& t : tables_) {
            const auto from = detail::to_lower(t.spec.from);
            Batch in;
            if (detail::to_lower(source_name) == from) {
                if (readers[from] == 1) in = std::move(input.data);
                else in = input.data;
            } else {
                auto it = std::find_if(outputs.begin(), outputs.end(),
                                       [&](const auto& kv) { return detail::to_lower(kv.first) == from; });
                if (it == outputs.end()) continue;  // fed by another source
                const auto upstream = std::find_if(tables_.begin(), tables_.end(), [&](const auto& u) {
                    return detail::to_lower(u.spec.name) == from;
                });
                const bool kept = upstream == tables_.end() || upstream->spec.stored || upstream->sink;
                if (!kept && readers[from] == 1) in = std::move(it->second);
                else in = it->second;
            }
            input_rows[t.spec.name] = in.num_rows();
            failing_table_ = t.spec.name;
            std::uint64_t missing_rows = 0;
            Batch out = run_table(t, std::move(in), outputs, missing_rows);
            output_rows[t.spec.name] = out.num_rows();
            outputs[t.spec.name] = std::move(out);
            missing[t.spec.name] = missing_rows;
        }

        // Sinks first: a crash (or a failed commit) after this leaves files that the replay of this
        // batch id finds and skips, so each row reaches a sink once.
        std::map<std::string, bool> sink_written;
        std::map<std::string, std::uint64_t> written;  // rows per table, counted once committed
        for (auto& t : tables_) {
            if (!t.sink) continue;
            auto it = outputs.find(t.spec.name);
            if (it == outputs.end()) continue;
            failing_table_ = t.spec.name;
            sink_written[t.spec.name] = t.sink->write(t.spec.name, batch_id, it->second);
            written[t.spec.name] += it->second.num_rows();
            if (auto q = outputs.find(t.spec.name + "_quarantine"); q != outputs.end()) {
                (void)t.sink->write(q->first, batch_id, q->second);
                written[q->first] += q->second.num_rows();
            }
        }

        failing_table_.clear();  // the commit is every table's
        BatchTransaction transaction = store_->transaction(batch_id);
        std::string metrics = R"({"source":)" + detail::pipeline::json_string(source_name) +
                              R"(,"files":)" + std::to_string(plan->files.size()) + R"(,"bytes":)" +
                              std::to_string(bytes) + R"(,"input_rows":)" + std::to_string(source_rows) +
                              R"(,"tables":{)";
        bool first_table = true;
        const auto duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - started).count();
        for (auto& t : tables_) {
            auto it = outputs.find(t.spec.name);
            if (it == outputs.end()) continue;
            if (!t.sink) {
                if (t.spec.stored) {
                    transaction.append(t.spec.name, it->second);
                    written[t.spec.name] += it->second.num_rows();
                }
                // Quarantined rows are kept even when their table is not: a row missing from
                // the next table is then always in a table that says why.
                if (auto q = outputs.find(t.spec.name + "_quarantine"); q != outputs.end()) {
                    transaction.append(q->first, q->second);
                    written[q->first] += q->second.num_rows();
                }
            }
            std::string quality = "null";
            if (auto m = last_metrics_.find(t.spec.name); m != last_metrics_.end()) quality = m->second.to_json();
            const std::string table_metrics =
                R"({"num_input_rows":)" + std::to_string(input_rows[t.spec.name]) + R"(,"num_output_rows":)" +
                std::to_string(output_rows[t.spec.name]) + R"(,"rows_with_missing_features":)" +
                std::to_string(missing[t.spec.name]) + R"(,"stored":)" + (t.spec.stored ? "true" : "false") +
                (t.sink ? std::string(R"(,"sink":)") + describe_sink(*t.sink) +
                              R"(,"sink_already_held":)" + (sink_written[t.spec.name] ? "false" : "true")
                        : std::string()) +
                R"(,"data_quality":)" + quality + "}";
            metrics += (first_table ? "" : ",") + detail::pipeline::json_string(t.spec.name) + ":" + table_metrics;
            first_table = false;
            event(t.spec.name, batch_id, "METRICS", "flow_progress",
                  "batch " + std::to_string(batch_id) + ": " + std::to_string(output_rows[t.spec.name]) + " rows",
                  R"({"flow_progress":{"status":"COMPLETED","metrics":{"num_input_rows":)" +
                      std::to_string(input_rows[t.spec.name]) + R"(,"num_output_rows":)" +
                      std::to_string(output_rows[t.spec.name]) + R"(,"files":)" + std::to_string(plan->files.size()) +
                      R"(,"bytes":)" + std::to_string(bytes) + R"(,"duration_ms":)" + std::to_string(duration_ms) +
                      R"(,"rows_with_missing_features":)" + std::to_string(missing[t.spec.name]) +
                      R"(},"data_quality":)" + quality + "}}");
        }
        metrics += "}}";
        source->commit(*plan);  // the seen files join the batch's transaction
        transaction.commit(metrics);
        failing_table_.clear();
        failing_batch_.reset();
        for (auto& t : tables_)
            if (auto m = last_metrics_.find(t.spec.name); m != last_metrics_.end()) t.totals += m->second;
        for (const auto& [table, rows] : written) summary.table_rows[table] += rows;
        summary.batches += 1;
        summary.input_rows += source_rows;
        if (reopen_after_commit_) {
            reopen_after_commit_ = false;
            open_sources();  // invalidates `source`: the last use is above
        }
        return true;
    }

    // The rows of `plan`: those read ahead when they are this plan's, else read now.
    SourceBatch read_planned(std::size_t source_index, FileSource& source, const BatchPlan& plan) {
        if (read_ahead_ && read_ahead_->source == source_index && read_ahead_->job->plan().files == plan.files) {
            ReadAhead ahead = std::move(*read_ahead_);
            read_ahead_.reset();
            SourceBatch batch = source.finish_read(*ahead.job, ahead.rows.get());  // get() rethrows
            batch.batch_id = plan.batch_id;
            return batch;
        }
        drop_read_ahead();
        return source.read(plan);
    }

    // Reading ahead is only an optimisation: if planning or starting it fails (the landing
    // folder gone, a busy database, no thread to be had), this batch goes on, and the source is
    // opened afresh from the store once the batch has committed, so that nothing it half did
    // (a listing cut short) stays behind. The next batch then reads its files itself.
    void start_read_ahead(std::size_t source_index, FileSource& source) noexcept {
        if (read_ahead_) return;
        try {
            const auto next = source.plan_ahead();
            if (!next) return;
            read_ahead_.emplace(source_index, source.read_job(*next));
        } catch (...) {
            read_ahead_.reset();
            reopen_after_commit_ = true;
        }
    }

    // Stops a read in progress (after the file it is reading), waits for it and forgets it; its
    // files are planned again.
    void drop_read_ahead() noexcept { read_ahead_.reset(); }

    [[nodiscard]] static std::string describe_sink(const Sink& sink) {
        if (const auto* files = dynamic_cast<const FileSink*>(&sink))
            return detail::pipeline::json_string(files->folder().string());
        return R"("callback")";
    }

    // One batch with production-mode retries: an I/O error or a busy database is retried with
    // exponential backoff (doubling, at most spec_.max_backoff); an expectation failure or a bad
    // configuration never is. A failed attempt commits nothing; the next one replays the same
    // plan with the same batch id.
    bool run_batch_with_retries(std::size_t source_index, RunSummary& summary) {
        auto backoff = std::min(spec_.first_backoff, spec_.max_backoff);
        for (int attempt = 1;; ++attempt) {
            try {
                if (reopen_sources_) {
                    // A failed attempt may have left a source's memory (its plan, its schema)
                    // ahead of the store: start again from what the store holds.
                    open_sources();
                    reopen_sources_ = false;
                }
                if (!deferred_events_.empty()) flush_deferred_events();
                return run_batch(source_index, summary);
            } catch (const io_error& e) {
                store_->rollback_batch();
                reopen_sources_ = true;
                if (spec_.mode != PipelineMode::production || attempt >= spec_.max_attempts) throw;
                event(failing_table_, failing_batch_, "WARN", "error",
                      "batch attempt " + std::to_string(attempt) + " of " + std::to_string(spec_.max_attempts) +
                          " failed, retrying in " + std::to_string(backoff.count()) + " ms: " + e.what(),
                      R"({"retry":{"attempt":)" + std::to_string(attempt) + R"(,"backoff_ms":)" +
                          std::to_string(backoff.count()) + R"(,"busy":)" +
                          (dynamic_cast<const store_busy_error*>(&e) ? "true" : "false") + R"(,"error":)" +
                          detail::pipeline::json_string(e.what()) + "}}");
                std::this_thread::sleep_for(backoff);
                backoff = std::min(backoff * 2, spec_.max_backoff);
            }
        }
    }

    RunSummary run(bool continuous, const std::atomic<bool>* stop) {
        RunSummary summary;
        failing_table_.clear();
        failing_batch_.reset();
        event("", std::nullopt, "INFO", "create_update",
              std::string("update started (") + (continuous ? "continuous" : "triggered") + ")",
              std::string(R"({"create_update":{"mode":")") + (continuous ? "continuous" : "triggered") +
                  R"(","development":)" + (spec_.mode == PipelineMode::development ? "true" : "false") + "}}");
        // The update waits for nothing here (one process owns the storage), but the state is
        // DLT's first: an update that never gets further (the database busy) shows as QUEUED.
        progress("QUEUED", "update queued");
        try {
            progress("INITIALIZING", "opening sources and tables");
            if (watch_for(continuous)) open_sources();
            progress("RUNNING", "processing");
            for (;;) {
                bool any = false;
                for (std::size_t s = 0; s < sources_.size(); ++s) {
                    while (!(stop && stop->load()) && run_batch_with_retries(s, summary)) any = true;
                }
                if (stop && stop->load()) {
                    drop_read_ahead();  // stops parsing the next batch: nobody will take it
                    progress("CANCELED", "stopped after " + std::to_string(summary.batches) + " batches");
                    return summary;
                }
                if (!continuous) break;
                if (!any) std::this_thread::sleep_for(idle_wait_);
            }
        } catch (const std::exception& e) {
            store_->rollback_batch();
            reopen_sources_ = true;
            // Logging the failure is best effort: the storage may be what failed (full, read-only,
            // busy), and the caller must get the original error.
            try {
                event(failing_table_, failing_batch_, "ERROR", "error", e.what(),
                      R"({"exception":)" + detail::pipeline::json_string(e.what()) + "}");
                progress("FAILED", e.what());
            } catch (const std::exception&) {
            }
            throw;
        }
        progress("COMPLETED", "processed " + std::to_string(summary.batches) + " batches, " +
                                  std::to_string(summary.input_rows) + " input rows");
        return summary;
    }

    PipelineSpec spec_;
    std::shared_ptr<SqliteStore> store_;
    std::vector<detail::pipeline::TableRuntime> tables_;
    std::vector<std::pair<std::string, std::unique_ptr<FileSource>>> sources_;
    std::map<std::string, DatasetMetrics> last_metrics_;
    std::string model_checksum_;
    std::chrono::milliseconds idle_wait_{5};
    std::vector<Event> deferred_events_;  // production mode: events that met a busy database
    // The next batch's files being read on another thread. Destroying or overwriting one
    // cancels the read and waits for the thread first, so a Pipeline that stops, is destroyed
    // or is assigned over never leaves a thread behind.
    struct ReadAhead {
        ReadAhead(std::size_t source_index, std::unique_ptr<FileSource::ReadJob> read_job)
            : source(source_index), job(std::move(read_job)),
              rows(std::async(std::launch::async, [j = job] { return j->run(); })) {}
        ReadAhead(ReadAhead&&) noexcept = default;
        ReadAhead& operator=(ReadAhead&& other) noexcept {
            stop();
            source = other.source;
            job = std::move(other.job);
            rows = std::move(other.rows);
            return *this;
        }
        ~ReadAhead() { stop(); }
        void stop() noexcept {
            if (job) job->cancel();
            if (rows.valid()) rows.wait();
        }
        std::size_t source = 0;
        std::shared_ptr<FileSource::ReadJob> job;  // shared with the thread's task
        std::future<SourceBatch> rows;
    };
    std::optional<ReadAhead> read_ahead_;
    bool reopen_after_commit_ = false;  // reading ahead failed: reopen the sources after this batch
    bool reopen_sources_ = false;
    bool watching_ = false;  // this run turned notifications on (watch_for)
    // Where the batch in progress is (the table being processed, its batch id): the origin of
    // the error event when it fails.
    std::string failing_table_;
    std::optional<std::uint64_t> failing_batch_;
};

}  // namespace isoflow
