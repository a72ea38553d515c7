// The isoflow program: train, score, generate and demo.
//
// Exit status: 0 on success, 1 for a failure (one line on stderr naming the file, line and
// column at fault), 2 for bad usage (the message and the usage text).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include <isoflow/forest.hpp>
#include <isoflow/io/reader.hpp>

#include "generate.hpp"
#include "pipeline_commands.hpp"
#include "table.hpp"

namespace {

using isoflow_cli::Failure;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// ROC AUC of `scores` (higher = more anomalous) against 0/1 labels: the Mann-Whitney statistic,
// with tied scores sharing their average rank.
double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
    std::vector<std::size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
    double positive_rank_sum = 0.0;
    std::size_t positives = 0;
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
        const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
        for (std::size_t k = i; k < j; ++k)
            if (labels[order[k]] == 1) {
                positive_rank_sum += average_rank;
                ++positives;
            }
        i = j;
    }
    const double negatives = static_cast<double>(scores.size() - positives);
    if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
    const double p = static_cast<double>(positives);
    return (positive_rank_sum - p * (p + 1.0) / 2.0) / (p * negatives);
}

struct TrainArgs {
    std::string input, output, features, exclude;
    int trees = 100;
    std::string max_samples = "auto", contamination = "auto", max_features = "1.0";
    bool bootstrap = false;
    std::int64_t seed = -1;
    int jobs = 1;
};

isoflow::IsolationForestParams params_of(const TrainArgs& a) {
    isoflow::IsolationForestParams p;
    p.n_estimators = a.trees;
    p.max_samples = isoflow::MaxSamples::parse(a.max_samples);
    p.contamination = isoflow::Contamination::parse(a.contamination);
    p.max_features = isoflow::MaxFeatures::parse(a.max_features);
    p.bootstrap = a.bootstrap;
    p.n_jobs = a.jobs;
    if (a.seed >= 0) p.random_state = static_cast<std::uint64_t>(a.seed);
    try {
        p.validate();
    } catch (const isoflow::model_error& e) {  // a parameter out of range is bad usage
        throw isoflow::config_error(e.what());
    }
    return p;
}

void add_train_options(CLI::App& cmd, TrainArgs& a) {
    cmd.add_option("--input", a.input, "training data: CSV with a header (plain or .gz), or JSON")->required();
    cmd.add_option("--output", a.output, "model file to write (.json: interchange format, else binary)")->required();
    cmd.add_option("--features", a.features, "comma-separated feature columns (default: every numeric column)");
    cmd.add_option("--exclude", a.exclude, "comma-separated columns not to use as features");
    cmd.add_option("--trees", a.trees, "n_estimators")->capture_default_str();
    cmd.add_option("--max-samples", a.max_samples, "rows per tree: auto | count | fraction")->capture_default_str();
    cmd.add_option("--contamination", a.contamination, "auto | share of outliers in (0, 0.5]")->capture_default_str();
    cmd.add_option("--max-features", a.max_features, "features per tree: count | fraction")->capture_default_str();
    cmd.add_flag("--bootstrap", a.bootstrap, "draw rows with replacement");
    cmd.add_option("--seed", a.seed, "random_state (default: a random seed)");
    cmd.add_option("--jobs", a.jobs, "threads (-1: all cores)")->capture_default_str();
}

int run_train(const TrainArgs& a) {
    const auto params = params_of(a);
    const auto start = Clock::now();
    const isoflow::Batch batch = isoflow_cli::read_table(a.input);
    const auto columns = isoflow_cli::pick_features(batch, a.input, isoflow_cli::split_list(a.features),
                                                    isoflow_cli::split_list(a.exclude));
    const auto X = isoflow_cli::feature_matrix(batch, a.input, columns);
    std::vector<std::string> names;
    for (auto c : columns) names.push_back(batch.schema().field(c).name);
    const double read_seconds = seconds_since(start);
    const auto fit_start = Clock::now();
    isoflow::IsolationForest<float> forest(params);
    forest.fit(X, names);
    const double fit_seconds = seconds_since(fit_start);
    forest.save(a.output);
    std::printf("trained %zu trees on %lld rows x %zu features (psi %lld) in %.3f s (read %.3f s); wrote %s\n",
                forest.trees().size(), static_cast<long long>(X.rows()), names.size(),
                static_cast<long long>(forest.max_samples()), fit_seconds, read_seconds, a.output.c_str());
    return 0;
}

isoflow::IsolationForest<float> load_model(const std::string& model) {
    if (model.rfind("models:/", 0) == 0)
        throw Failure(model + ": model registry URIs need the model registry, which this isoflow does not have yet; "
                              "give a model file");
    return isoflow::IsolationForest<float>::load(model);
}

// The model's features as columns of the batch, by name (case-insensitive); a model without
// names takes the numeric columns in order.
std::vector<std::size_t> model_columns(const isoflow::IsolationForest<float>& forest, const isoflow::Batch& batch,
                                       const std::string& path) {
    const auto& names = forest.feature_names_in();
    if (names.empty()) {
        auto columns = isoflow_cli::pick_features(batch, path, {}, {});
        if (static_cast<std::int64_t>(columns.size()) != forest.n_features_in())
            throw Failure(path + ": the model has no feature names and expects " +
                          std::to_string(forest.n_features_in()) + " numeric columns; the file has " +
                          std::to_string(columns.size()));
        return columns;
    }
    std::vector<std::size_t> columns;
    for (const auto& name : names) {
        const auto i = batch.schema().find(name);
        if (!i) throw Failure(path + ": the model's feature '" + name + "' is not a column of the file" +
                              batch.schema().suggestions(name));
        columns.push_back(*i);
    }
    return columns;
}

struct ScoreArgs {
    std::string model, input, output, keep;
};

int run_score(const ScoreArgs& a) {
    const auto forest = load_model(a.model);
    const isoflow::Batch batch = isoflow_cli::read_table(a.input);
    const auto X = isoflow_cli::feature_matrix(batch, a.input, model_columns(forest, batch, a.input));
    std::vector<std::size_t> keep;
    for (const auto& name : isoflow_cli::split_list(a.keep)) {
        const auto i = batch.schema().find(name);
        if (!i) throw Failure(a.input + ": --keep names no column '" + name + "'" + batch.schema().suggestions(name));
        keep.push_back(*i);
    }
    const auto start = Clock::now();
    const Eigen::VectorXd scores = forest.score_samples(X);
    const double score_seconds = seconds_since(start);
    std::string out;
    for (auto c : keep) {
        isoflow_cli::write_csv_field(out, batch.schema().field(c).name);
        out += ',';
    }
    out += "score,decision,is_anomaly\n";
    std::size_t anomalies = 0;
    for (Eigen::Index r = 0; r < scores.size(); ++r) {
        for (auto c : keep) {
            isoflow_cli::write_cell(out, batch, c, static_cast<std::size_t>(r));
            out += ',';
        }
        const double decision = scores(r) - forest.offset();
        isoflow_cli::append_double(out, scores(r));
        out += ',';
        isoflow_cli::append_double(out, decision);
        out += decision < 0.0 ? ",true\n" : ",false\n";
        anomalies += decision < 0.0;
    }
    isoflow::detail::write_whole_file(a.output, out);
    std::printf("scored %lld rows in %.3f s (%.0f rows/s); %zu anomalies; wrote %s\n",
                static_cast<long long>(scores.size()), score_seconds,
                static_cast<double>(scores.size()) / std::max(score_seconds, 1e-9), anomalies, a.output.c_str());
    return 0;
}

struct GenerateArgs {
    std::int64_t rows = 100'000;
    double fraud_rate = 0.002;
    std::uint64_t seed = 1;
    std::string output;
    std::string landing, labels, format = "jsonl";
    std::int64_t rows_per_file = 1000;
    bool rows_per_file_given = false;
    double files_per_second = 0.0;
    double null_rate = 0.0;
};

int run_generate(const GenerateArgs& a) {
    if (a.rows < 1) throw isoflow::config_error("--rows: expected a count >= 1, got " + std::to_string(a.rows));
    if (!(a.fraud_rate >= 0.0 && a.fraud_rate <= 0.5))
        throw isoflow::config_error("--fraud-rate: expected a share in [0, 0.5], got " +
                                    isoflow::detail::format_double(a.fraud_rate));
    if (a.output.empty() == a.landing.empty())
        throw isoflow::config_error("generate: give either --output FILE.csv or --landing DIR");
    if (!a.landing.empty()) {
        isoflow_cli::LandingOptions landing;
        landing.directory = a.landing;
        landing.labels = a.labels.empty() ? a.landing + "_labels.csv" : a.labels;
        landing.rows_per_file = a.rows_per_file;
        landing.files_per_second = a.files_per_second;
        landing.null_rate = a.null_rate;
        if (a.format == "json") landing.format = isoflow_cli::LandingFormat::json;
        else if (a.format == "jsonl") landing.format = isoflow_cli::LandingFormat::jsonl;
        else if (a.format == "csv") landing.format = isoflow_cli::LandingFormat::csv;
        else if (a.format == "pydict") landing.format = isoflow_cli::LandingFormat::pydict;
        else throw isoflow::config_error("--format: expected json, jsonl, csv or pydict, got '" + a.format + "'");
        const bool one_per_file = landing.format == isoflow_cli::LandingFormat::json ||
                                  landing.format == isoflow_cli::LandingFormat::pydict;
        if (a.rows_per_file < 1)
            throw isoflow::config_error("--rows-per-file: expected a count >= 1, got " + std::to_string(a.rows_per_file));
        if (one_per_file && a.rows_per_file_given && a.rows_per_file != 1)
            throw isoflow::config_error("--rows-per-file " + std::to_string(a.rows_per_file) + ": --format " + a.format +
                                        " writes one record per file; use jsonl or csv for several");
        if (!(a.files_per_second >= 0.0))
            throw isoflow::config_error("--files-per-second: expected a rate >= 0, got " +
                                        isoflow::detail::format_double(a.files_per_second));
        isoflow_cli::install_stop_handlers();
        const auto written = isoflow_cli::generate_landing({a.rows, a.fraud_rate, a.seed}, landing,
                                                           [] { return !isoflow_cli::stop_requested().load(); });
        std::printf("wrote %lld transactions (%lld planted frauds) in %lld files into %s; labels in %s%s\n",
                    static_cast<long long>(written.rows), static_cast<long long>(written.frauds),
                    static_cast<long long>(written.files), a.landing.c_str(), landing.labels.c_str(),
                    written.rows < a.rows ? " (stopped by a signal)" : "");
        return 0;
    }
    const auto frauds = isoflow_cli::generate_csv({a.rows, a.fraud_rate, a.seed}, a.output);
    std::printf("wrote %lld transactions (%lld planted frauds) to %s\n", static_cast<long long>(a.rows),
                static_cast<long long>(frauds), a.output.c_str());
    return 0;
}

struct DemoArgs {
    std::string input;
    std::string label = "label";
    std::int64_t rows = 200'000;
    std::uint64_t seed = 1;
    std::string workdir = "isoflow-demo";
    double train_share = 0.2;
};

// Writes the demo's pipeline definition (the seed's bronze -> silver -> gold).
void write_demo_pipeline(const std::filesystem::path& file) {
    const std::string text = R"({
  "name": "fraud",
  "storage": "storage",
  "sources": {
    "transactions": {"path": "landing", "format": "json", "infer_column_types": true,
                     "schema_hints": "tx_id BIGINT, cust_id BIGINT, Time DOUBLE, Amount DOUBLE",
                     "max_files_per_trigger": 1000, "settle_time_ms": 0}
  },
  "tables": [
    {"name": "transaction_readings_raw", "from": "transactions", "quality": "bronze"},
    {"name": "transaction_readings_cleaned", "from": "transaction_readings_raw", "quality": "silver",
     "expectations": [{"name": "valid_transaction_reading",
                       "constraint": "AMOUNT IS NOT NULL OR TIME IS NOT NULL",
                       "on_violation": "drop"}]},
    {"name": "predictions", "from": "transaction_readings_cleaned", "quality": "gold",
     "score": {"model": "model.iforest"},
     "select": ["tx_id", "cust_id", "Amount", "anomaly_score", "is_anomaly"]}
  ]
}
)";
    isoflow::detail::write_whole_file(file.string(), text);
}

// The main job: card transactions land as files -> an isolation forest is trained on the first
// part -> the pipeline ingests every file (bronze), drops invalid readings (silver), scores each
// transaction (gold) -> row counts, expectation metrics, anomalies and the ROC AUC of the
// anomaly score against the labels.
int run_demo(const DemoArgs& a) {
    namespace fs = std::filesystem;
    const fs::path work = fs::absolute(a.workdir);
    fs::remove_all(work / "landing");
    fs::remove_all(work / "storage");
    fs::remove(work / "labels.csv");
    fs::create_directories(work);
    const std::string landing = (work / "landing").string(), labels_path = (work / "labels.csv").string();
    std::vector<std::string> feature_names = {};
    isoflow::RowMatrix<double> train;
    auto start = Clock::now();
    if (a.input.empty()) {
        isoflow_cli::LandingOptions options;
        options.directory = landing;
        options.labels = labels_path;
        options.rows_per_file = 1000;
        options.null_rate = 0.001;  // a few readings without Amount or Time, for the expectation
        const auto landed = isoflow_cli::generate_landing({a.rows, 0.002, a.seed}, options);
        std::printf("landed %lld card transactions (%lld planted frauds) as %lld JSON Lines files in %.2f s\n",
                    static_cast<long long>(landed.rows), static_cast<long long>(landed.frauds),
                    static_cast<long long>(landed.files), seconds_since(start));
        // The training part: the first transactions, regenerated from the same seed.
        isoflow_cli::TransactionGenerator generator({a.rows, 0.002, a.seed});
        const auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(a.train_share * static_cast<double>(a.rows)));
        train.resize(n, 29);
        for (std::int64_t r = 0; r < n; ++r) {
            const auto t = generator.next();
            for (int j = 0; j < 28; ++j) train(r, j) = t.v[j];
            train(r, 28) = t.amount;
        }
        for (int j = 1; j <= 28; ++j) feature_names.push_back("V" + std::to_string(j));
        feature_names.push_back("Amount");
    } else {
        // A labelled CSV: its rows become landing files (without the label), labels a CSV beside.
        const isoflow::Batch batch = isoflow_cli::read_table(a.input);
        const auto label_column = batch.schema().find(a.label);
        if (!label_column) throw Failure(a.input + ": no label column '" + a.label + "'" + batch.schema().suggestions(a.label));
        std::vector<std::string> exclude = {a.label};
        for (const char* bookkeeping : {"cust_id", "Time", "tx_id"})
            if (batch.schema().find(bookkeeping)) exclude.emplace_back(bookkeeping);
        const auto columns = isoflow_cli::pick_features(batch, a.input, {}, exclude);
        const auto X = isoflow_cli::feature_matrix(batch, a.input, columns);
        for (auto c : columns) feature_names.push_back(batch.schema().field(c).name);
        fs::create_directories(landing);
        std::string labels = "tx_id,label\n", body;
        const auto& lc = batch.column(*label_column);
        std::size_t file_index = 0;
        for (std::size_t r = 0; r < batch.num_rows(); ++r) {
            body += "{\"tx_id\": " + std::to_string(r);
            for (std::size_t k = 0; k < columns.size(); ++k) {
                body += ", ";
                isoflow::detail::append_json_string(body, feature_names[k]);
                body += ": ";
                isoflow_cli::append_double(body, X(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(k)));
            }
            if (auto t = batch.schema().find("Time"); t && batch.column(*t).is_valid(r)) {
                body += ", \"Time\": ";
                isoflow_cli::write_cell(body, batch, *t, r);
            }
            body += "}\n";
            const bool fraud = lc.is_valid(r) && (lc.type() == isoflow::DataType::int64 ? lc.int64_values()[r] != 0
                                                  : lc.type() == isoflow::DataType::float64 && lc.double_values()[r] != 0.0);
            labels += std::to_string(r) + (fraud ? ",1\n" : ",0\n");
            if ((r + 1) % 1000 == 0 || r + 1 == batch.num_rows()) {
                char name[32];
                std::snprintf(name, sizeof name, "tx-%09zu.json", file_index++);
                isoflow::detail::write_whole_file((fs::path(landing) / name).string(), body);
                body.clear();
            }
        }
        isoflow::detail::write_whole_file(labels_path, labels);
        const auto n = std::max<Eigen::Index>(1, static_cast<Eigen::Index>(a.train_share * static_cast<double>(X.rows())));
        train = X.topRows(n);
        std::printf("landed %zu transactions from %s as %zu JSON Lines files\n", batch.num_rows(), a.input.c_str(),
                    file_index);
    }

    isoflow::IsolationForestParams params;
    params.random_state = a.seed;
    params.n_jobs = -1;
    isoflow::IsolationForest<float> forest(params);
    start = Clock::now();
    forest.fit(train, feature_names);
    std::printf("trained %zu trees on the first %lld transactions in %.1f ms\n", forest.trees().size(),
                static_cast<long long>(train.rows()), seconds_since(start) * 1e3);
    forest.save((work / "model.iforest").string());
    write_demo_pipeline(work / "pipeline.json");

    start = Clock::now();
    isoflow::Pipeline pipeline = isoflow::Pipeline::from_file(work / "pipeline.json");
    const auto summary = pipeline.run_once();
    const double run_seconds = seconds_since(start);
    std::printf("pipeline '%s' (%s): %llu batches, %llu rows in %.2f s (%.0f rows/s end to end)\n",
                pipeline.spec().name.c_str(), (work / "pipeline.json").c_str(),
                static_cast<unsigned long long>(summary.batches), static_cast<unsigned long long>(summary.input_rows),
                run_seconds, static_cast<double>(summary.input_rows) / std::max(run_seconds, 1e-9));
    isoflow_cli::print_status(pipeline.store(), 1);
    for (const auto& m : pipeline.expectation_totals()) std::printf("expectations: %s\n", m.to_json().c_str());

    // The gold table against the labels.
    const isoflow::Batch gold = pipeline.store().read_table("predictions");
    std::vector<int> label_of(static_cast<std::size_t>(summary.input_rows + 1), -1);
    {
        isoflow::ReadOptions options;
        options.infer_column_types = true;
        const isoflow::Batch labels = isoflow::read_csv(labels_path, options);
        const auto ids = labels.column("tx_id").int64_values();
        const auto values = labels.column("label").int64_values();
        label_of.assign(ids.size() + 1, -1);
        for (std::size_t i = 0; i < ids.size(); ++i)
            if (ids[i] >= 0 && static_cast<std::size_t>(ids[i]) < label_of.size())
                label_of[static_cast<std::size_t>(ids[i])] = static_cast<int>(values[i]);
    }
    const auto ids = gold.column("tx_id").int64_values();
    const auto scores = gold.column("anomaly_score").double_values();
    const auto flags = gold.column("is_anomaly").bool_values();
    std::vector<double> s;
    std::vector<int> y;
    std::size_t anomalies = 0, caught = 0;
    for (std::size_t i = 0; i < gold.num_rows(); ++i) {
        const auto id = static_cast<std::size_t>(ids[i]);
        if (id >= label_of.size() || label_of[id] < 0) continue;
        s.push_back(scores[i]);
        y.push_back(label_of[id]);
        anomalies += flags[i];
        caught += flags[i] && label_of[id] == 1;
    }
    std::printf("anomalies flagged in gold: %zu of %zu (%zu of them labelled fraud, of %lld frauds)\n", anomalies,
                s.size(), caught, static_cast<long long>(std::count(y.begin(), y.end(), 1)));
    std::printf("ROC AUC of anomaly_score against the labels: %.4f\n", roc_auc(s, y));
    std::printf("query it: sqlite3 %s 'SELECT * FROM predictions ORDER BY anomaly_score DESC LIMIT 10'\n",
                (work / "storage" / "pipeline.db").c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"isoflow: anomaly detection with isolation forests"};
    app.require_subcommand(1);
    app.set_version_flag("--version", isoflow::version_string);

    TrainArgs train;
    auto* train_cmd = app.add_subcommand("train", "train an isolation forest on a CSV or JSON file");
    add_train_options(*train_cmd, train);

    ScoreArgs score;
    auto* score_cmd = app.add_subcommand("score", "score the rows of a file with a model; writes CSV");
    score_cmd->add_option("--model", score.model, "model file (or models:/NAME@ALIAS with a registry)")->required();
    score_cmd->add_option("--input", score.input, "CSV (plain or .gz) or JSON file to score")->required();
    score_cmd->add_option("--output", score.output, "CSV file to write")->required();
    score_cmd->add_option("--keep", score.keep, "comma-separated input columns to copy to the output");

    GenerateArgs generate;
    auto* generate_cmd = app.add_subcommand("generate", "write synthetic card transactions with planted frauds");
    generate_cmd->add_option("--rows", generate.rows, "number of transactions")->capture_default_str();
    generate_cmd->add_option("--fraud-rate", generate.fraud_rate, "share of planted frauds")->capture_default_str();
    generate_cmd->add_option("--seed", generate.seed, "random seed")->capture_default_str();
    generate_cmd->add_option("--output", generate.output, "CSV file to write (with a label column)");
    generate_cmd->add_option("--landing", generate.landing, "write files into this landing directory instead");
    generate_cmd->add_option("--rows-per-file", generate.rows_per_file,
                               "records per landing file (jsonl, csv; json and pydict hold one)")
        ->capture_default_str();
    generate_cmd->add_option("--format", generate.format, "landing files: json | jsonl | csv | pydict (one record "
                                                          "per file in Python dict syntax)")->capture_default_str();
    generate_cmd->add_option("--files-per-second", generate.files_per_second, "pace of landing files (0: no pause)");
    generate_cmd->add_option("--labels", generate.labels, "CSV of tx_id,label (default: LANDING_labels.csv)");
    generate_cmd->add_option("--null-rate", generate.null_rate, "share of records with Amount and/or Time missing");

    DemoArgs demo;
    auto* demo_cmd = app.add_subcommand("demo", "the fraud demo: transactions land as files, a model is trained on "
                                                "the first part, the pipeline ingests, cleans and scores them all");
    demo_cmd->add_option("input", demo.input, "a labelled CSV (e.g. creditcard_fraud_pooled.csv.gz); default: generate");
    demo_cmd->add_option("--label", demo.label, "the label column (1 = fraud)")->capture_default_str();
    demo_cmd->add_option("--rows", demo.rows, "transactions to generate")->capture_default_str();
    demo_cmd->add_option("--seed", demo.seed, "random seed")->capture_default_str();
    demo_cmd->add_option("--workdir", demo.workdir, "folder for landing files, model, pipeline and storage")
        ->capture_default_str();
    demo_cmd->add_option("--train-share", demo.train_share, "share of the transactions the model is trained on")
        ->capture_default_str();

    isoflow_cli::RunArgs run;
    auto* run_cmd = app.add_subcommand("run", "run a pipeline defined in a JSON file");
    run_cmd->add_option("pipeline", run.pipeline, "PIPELINE.json")->required();
    auto* once = run_cmd->add_flag("--once", run.once, "process everything available, then stop (default)");
    run_cmd->add_flag("--continuous", run.continuous, "keep running until SIGINT or SIGTERM")->excludes(once);
    run_cmd->add_flag("--full-refresh", run.full_refresh, "empty the tables and the checkpoint first");

    std::string status_file;
    auto* status_cmd = app.add_subcommand("status", "a pipeline's tables, row counts and last batches");
    status_cmd->add_option("pipeline", status_file, "PIPELINE.json")->required();

    std::string events_file;
    bool follow = false;
    auto* events_cmd = app.add_subcommand("events", "print a pipeline's event log");
    events_cmd->add_option("pipeline", events_file, "PIPELINE.json")->required();
    events_cmd->add_flag("--follow", follow, "keep printing new events until SIGINT");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "isoflow: %s\n\n", e.what());
        const CLI::App* failed = &app;
        for (auto* sub : app.get_subcommands()) failed = sub;
        std::fputs(failed->help().c_str(), stderr);
        return 2;
    }

    generate.rows_per_file_given = generate_cmd->get_option("--rows-per-file")->count() > 0;
    try {
        if (*train_cmd) return run_train(train);
        if (*score_cmd) return run_score(score);
        if (*generate_cmd) return run_generate(generate);
        if (*demo_cmd) return run_demo(demo);
        if (*run_cmd) return isoflow_cli::run_pipeline(run);
        if (*status_cmd) return isoflow_cli::pipeline_status(status_file);
        if (*events_cmd) return isoflow_cli::pipeline_events(events_file, follow);
    } catch (const isoflow::config_error& e) {
        // A mistake in a pipeline file (or a model that no longer matches its plan) is bad
        // input, not bad usage: the one error, naming the file and the place, without the usage.
        if (*run_cmd || *status_cmd || *events_cmd) {
            std::fprintf(stderr, "isoflow: error: %s\n", e.what());
            return 1;
        }
        std::fprintf(stderr, "isoflow: %s\n\n", e.what());
        std::fputs(app.help().c_str(), stderr);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "isoflow: error: %s\n", e.what());
        return 1;
    }
    return 2;
}
