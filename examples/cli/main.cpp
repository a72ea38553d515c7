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
    std::string model, registry, input, output, keep;
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
};

int run_generate(const GenerateArgs& a) {
    if (a.rows < 1) throw Failure("--rows: expected a count >= 1, got " + std::to_string(a.rows));
    if (!(a.fraud_rate >= 0.0 && a.fraud_rate <= 0.5))
        throw Failure("--fraud-rate: expected a share in [0, 0.5], got " + isoflow::detail::format_double(a.fraud_rate));
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
    int jobs = -1;
};

// The main job: card transactions (generated, or a CSV such as the Kaggle data) -> train on
// the features -> score every row -> ROC AUC against the labels, and the throughput.
int run_demo(const DemoArgs& a) {
    std::filesystem::create_directories(a.workdir);
    std::string input = a.input;
    if (input.empty()) {
        input = (std::filesystem::path(a.workdir) / "transactions.csv").string();
        const auto start = Clock::now();
        const auto frauds = isoflow_cli::generate_csv({a.rows, 0.002, a.seed}, input);
        std::printf("generated %lld card transactions with %lld planted frauds in %.2f s: %s\n",
                    static_cast<long long>(a.rows), static_cast<long long>(frauds), seconds_since(start), input.c_str());
    }
    auto start = Clock::now();
    const isoflow::Batch batch = isoflow_cli::read_table(input);
    const double read_seconds = seconds_since(start);
    const auto label_column = batch.schema().find(a.label);
    if (!label_column) throw Failure(input + ": no label column '" + a.label + "'" + batch.schema().suggestions(a.label));
    std::vector<std::string> exclude = {a.label};
    for (const char* bookkeeping : {"cust_id", "Time"})
        if (batch.schema().find(bookkeeping)) exclude.emplace_back(bookkeeping);
    const auto columns = isoflow_cli::pick_features(batch, input, {}, exclude);
    const auto X = isoflow_cli::feature_matrix(batch, input, columns);
    std::vector<int> labels(batch.num_rows());
    const auto& lc = batch.column(*label_column);
    for (std::size_t r = 0; r < batch.num_rows(); ++r)
        labels[r] = lc.is_valid(r) && (lc.type() == isoflow::DataType::int64 ? lc.int64_values()[r] != 0
                                       : lc.type() == isoflow::DataType::float64 ? lc.double_values()[r] != 0.0
                                                                                  : false);
    std::vector<std::string> names;
    for (auto c : columns) names.push_back(batch.schema().field(c).name);
    std::printf("read %zu rows x %zu features in %.2f s (%.0f rows/s)\n", batch.num_rows(), names.size(), read_seconds,
                static_cast<double>(batch.num_rows()) / std::max(read_seconds, 1e-9));

    isoflow::IsolationForestParams params;
    params.random_state = a.seed;
    params.n_jobs = a.jobs;
    isoflow::IsolationForest<float> forest(params);
    start = Clock::now();
    forest.fit(X, names);
    const double fit_seconds = seconds_since(start);
    const std::string model_path = (std::filesystem::path(a.workdir) / "model.iforest").string();
    forest.save(model_path);
    start = Clock::now();
    const Eigen::VectorXd scores = forest.score_samples(X);
    const double score_seconds = seconds_since(start);
    std::vector<double> anomaly(static_cast<std::size_t>(scores.size()));
    std::size_t flagged = 0;
    for (Eigen::Index i = 0; i < scores.size(); ++i) {
        anomaly[static_cast<std::size_t>(i)] = -scores(i);
        flagged += scores(i) - forest.offset() < 0.0;
    }
    const auto frauds = std::count(labels.begin(), labels.end(), 1);
    std::printf("trained %zu trees (psi %lld) in %.1f ms; saved %s\n", forest.trees().size(),
                static_cast<long long>(forest.max_samples()), fit_seconds * 1e3, model_path.c_str());
    std::printf("scored %lld rows in %.3f s: %.0f rows/s\n", static_cast<long long>(scores.size()), score_seconds,
                static_cast<double>(scores.size()) / std::max(score_seconds, 1e-9));
    std::printf("labelled frauds: %lld of %zu; flagged as anomalies (offset %.3f): %zu\n",
                static_cast<long long>(frauds), labels.size(), forest.offset(), flagged);
    std::printf("ROC AUC of the anomaly score against the labels: %.4f\n", roc_auc(anomaly, labels));
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
    score_cmd->add_option("--registry", score.registry, "model registry folder");
    score_cmd->add_option("--input", score.input, "CSV (plain or .gz) or JSON file to score")->required();
    score_cmd->add_option("--output", score.output, "CSV file to write")->required();
    score_cmd->add_option("--keep", score.keep, "comma-separated input columns to copy to the output");

    GenerateArgs generate;
    auto* generate_cmd = app.add_subcommand("generate", "write synthetic card transactions with planted frauds");
    generate_cmd->add_option("--rows", generate.rows, "number of transactions")->capture_default_str();
    generate_cmd->add_option("--fraud-rate", generate.fraud_rate, "share of planted frauds")->capture_default_str();
    generate_cmd->add_option("--seed", generate.seed, "random seed")->capture_default_str();
    generate_cmd->add_option("--output", generate.output, "CSV file to write")->required();

    DemoArgs demo;
    auto* demo_cmd = app.add_subcommand("demo", "the fraud demo: generate (or read) transactions, train, score, "
                                                "report ROC AUC and throughput");
    demo_cmd->add_option("input", demo.input, "a labelled CSV (e.g. creditcard_fraud_pooled.csv.gz); default: generate");
    demo_cmd->add_option("--label", demo.label, "the label column (1 = fraud)")->capture_default_str();
    demo_cmd->add_option("--rows", demo.rows, "transactions to generate")->capture_default_str();
    demo_cmd->add_option("--seed", demo.seed, "random seed")->capture_default_str();
    demo_cmd->add_option("--workdir", demo.workdir, "folder for generated data and the model")->capture_default_str();
    demo_cmd->add_option("--jobs", demo.jobs, "threads (-1: all cores)")->capture_default_str();

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

    try {
        if (*train_cmd) return run_train(train);
        if (*score_cmd) return run_score(score);
        if (*generate_cmd) return run_generate(generate);
        if (*demo_cmd) return run_demo(demo);
    } catch (const isoflow::config_error& e) {
        std::fprintf(stderr, "isoflow: %s\n\n", e.what());
        std::fputs(app.help().c_str(), stderr);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "isoflow: error: %s\n", e.what());
        return 1;
    }
    return 2;
}
