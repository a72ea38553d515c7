// FileSource: an incremental source over a landing directory, after Databricks Auto Loader.
// Every settled file is read exactly once (per the seen-file log), in order of (mtime, name),
// in batches bounded by file count and bytes; the schema is inferred once, stored versioned in
// the log, and evolves as the options say.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <limits>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "isoflow/io/detail/platform.hpp"
#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/io/detail/builder.hpp"
#include "isoflow/io/detail/text.hpp"
#include "isoflow/io/detail/watcher.hpp"
#include "isoflow/io/options.hpp"
#include "isoflow/io/reader.hpp"
#include "isoflow/io/seen_file_log.hpp"
#include "isoflow/io/source.hpp"

namespace isoflow {

// Options named after Auto Loader's (cloudFiles.*), in snake_case, then ours.
struct FileSourceOptions {
    std::string path;                    // the landing directory
    FileFormat format = FileFormat::json;
    bool infer_column_types = false;     // else every column is a string
    std::string schema_hints;            // "cust_id BIGINT, Time DOUBLE"
    // Default: addNewColumns without a given schema, none with one.
    std::optional<SchemaEvolutionMode> schema_evolution_mode;
    std::string rescued_data_column = "_rescued_data";
    std::size_t max_files_per_trigger = 1000;
    std::uint64_t max_bytes_per_trigger = 0;  // soft: a file is never split; 0 = no limit
    bool include_existing_files = true;
    bool allow_overwrites = false;
    std::string path_glob_filter;        // matched against file names, e.g. "*.json"
    bool recursive_file_lookup = false;  // also look in subdirectories
    bool use_notifications = false;      // inotify on Linux, with listing as a backstop

    // --- beyond Auto Loader's names -------------------------------------------------------
    std::optional<Schema> schema;        // a given schema (no inference)
    ReadOptions read;                    // CSV dialect, on_malformed, add_source_line, ...
    // A file whose mtime is younger than this may still be written to and is left for later.
    // Files reported closed by a notification are taken at once.
    std::chrono::milliseconds settle_time{500};
    // With notifications: how often to list the directory anyway, so no file is ever missed.
    std::chrono::milliseconds listing_interval{10'000};
    std::size_t infer_sample_files = 50;  // inference reads at most this many files (and
                                          // read.infer_sample_bytes of each)
    // How many unread files a listing keeps in memory: the oldest by (mtime, name); the others
    // are found again by the listing that follows once these are planned. Bounds the source's
    // memory whatever the size of the directory (about 250 bytes a kept file); a smaller
    // value means more listings to drain a large backlog. 0: max(max_files_per_trigger,
    // 100,000). Never fewer than max_files_per_trigger.
    std::size_t max_queued_files = 0;
};

// Something the source wants a caller to know that is not a batch: a file rewritten after it was
// read (allow_overwrites = false), a file that could not be read.
struct SourceNotice {
    std::string file;
    std::string message;
};

class FileSource final : public Source {
public:
    explicit FileSource(FileSourceOptions options, std::shared_ptr<SeenFileLog> log = nullptr)
        : options_(std::move(options)), log_(log ? std::move(log) : std::make_shared<MemorySeenFileLog>()) {
        if (options_.path.empty()) detail::throw_error<config_error>("FileSource: option 'path' is empty: expected a directory");
        if (options_.max_files_per_trigger == 0)
            detail::throw_error<config_error>("FileSource: max_files_per_trigger must be at least 1");
        root_ = options_.path;
        for (const auto& part : root_) root_parts_ += !part.empty();
        read_ = options_.read;
        read_.schema = std::nullopt;
        read_.infer_column_types = options_.infer_column_types;
        read_.schema_hints = options_.schema_hints;
        read_.schema_evolution_mode = options_.schema_evolution_mode.value_or(
            options_.schema ? SchemaEvolutionMode::none : SchemaEvolutionMode::add_new_columns);
        read_.rescued_data_column = options_.rescued_data_column;
        read_.add_source_file = true;
        (void)parse_schema_hints(options_.schema_hints);  // reject bad hints now
        if (auto s = log_->latest_schema()) {
            schema_version_ = s->first;
            schema_ = s->second;
        } else if (options_.schema) {
            auto fields = options_.schema->fields();
            detail::apply_hints(fields, parse_schema_hints(options_.schema_hints));
            schema_ = Schema(std::move(fields));
            schema_version_ = 1;
            log_->save_schema(schema_version_, *schema_);
        }
        if (!options_.include_existing_files) {
            if (auto t = log_->property("start_time_ns")) {
                start_time_ns_ = std::stoll(*t);
            } else {
                // mtimes come from the kernel's coarse clock, which can lag now() by a tick (a
                // few ms): a file written just after the start could look older than it and be
                // skipped. Starting 50 ms early reads such a file; the price is that files
                // written in the 50 ms before the start are read too.
                start_time_ns_ = now_ns() - 50'000'000;
                log_->set_property("start_time_ns", std::to_string(start_time_ns_));
            }
        }
        if (options_.use_notifications) watcher_ = detail::make_watcher(root_, options_.recursive_file_lookup);
    }

    [[nodiscard]] std::optional<BatchPlan> plan() override {
        if (in_flight_) return in_flight_;
        if (auto pending = log_->pending_plan()) {
            in_flight_ = std::move(pending);
            return in_flight_;
        }
        BatchPlan plan;
        if (ahead_) {
            plan = std::move(*ahead_);
            ahead_.reset();
        } else {
            discover();
            plan.files = take_from_queue();
        }
        plan.batch_id = log_->last_batch_id() + 1;
        if (plan.files.empty()) return std::nullopt;
        log_->save_plan(plan);
        in_flight_ = plan;
        return in_flight_;
    }

    // Read-ahead: the files of the batch that plan() will return once the batch in flight is
    // committed, so that a caller can read them on another thread meanwhile (see ReadJob).
    // Nothing is written to the log until plan() returns them. nullopt when no batch is in
    // flight or no further file is ready.
    [[nodiscard]] std::optional<BatchPlan> plan_ahead() {
        if (!in_flight_) return std::nullopt;
        if (!ahead_) {
            discover();
            auto files = take_from_queue();
            if (files.empty()) return std::nullopt;
            ahead_ = BatchPlan{in_flight_->batch_id + 1, std::move(files)};
        }
        return ahead_;
    }

    // Everything reading a plan needs, copied, so that run() can go on another thread while
    // this source is used for anything but another read: it touches neither the log nor the
    // source. finish_read() then takes the result, on the source's thread, in plan order.
    class ReadJob {
    public:
        [[nodiscard]] const BatchPlan& plan() const noexcept { return plan_; }
        // Asks run() to stop after the file it is reading; the job's rows are then unusable
        // (finish_read refuses them). For a caller that stops and will not use them.
        void cancel() noexcept { cancelled_.store(true, std::memory_order_relaxed); }
        [[nodiscard]] SourceBatch run() {
            detail::BatchBuilder builder(read_, fields_);
            SourceBatch out;
            out.batch_id = plan_.batch_id;
            for (const auto& f : plan_.files) {
                if (cancelled_.load(std::memory_order_relaxed)) break;
                builder.set_file(f.path);
                const auto mark = builder.mark();
                try {
                    auto cursor = detail::make_cursor(format_, f.path, f.path, read_, *parser_);
                    cursor->read_into(builder, std::numeric_limits<std::size_t>::max() / 2);
                    std::string reason;
                    if (detail::cursor_skipped(*cursor, reason)) {
                        builder.rollback(mark);
                        builder.stats().skipped_files.push_back(SkippedFile{f.path, reason});
                    }
                } catch (const io_error& e) {
                    builder.rollback(mark);
                    out.failed_files.push_back(SkippedFile{f.path, e.what()});
                }
            }
            out.stats = builder.stats();
            schema_after_ = builder.schema();
            out.data = builder.finish();
            return out;
        }

    private:
        friend class FileSource;
        ReadJob(BatchPlan plan, ReadOptions read, std::vector<Field> fields, FileFormat format,
                std::unique_ptr<simdjson::dom::parser> parser, std::uint64_t schema_version)
            : plan_(std::move(plan)), read_(std::move(read)), fields_(std::move(fields)), format_(format),
              parser_(std::move(parser)), schema_version_(schema_version) {}
        BatchPlan plan_;
        ReadOptions read_;
        std::vector<Field> fields_;
        FileFormat format_;
        std::unique_ptr<simdjson::dom::parser> parser_;  // the source's spare one, given back after
        std::uint64_t schema_version_;  // the source's schema version the job reads with
        Schema schema_after_;
        std::atomic<bool> cancelled_{false};
    };

    // A job that reads `plan` with the current schema. For the first batch the schema is
    // inferred first, here.
    [[nodiscard]] std::unique_ptr<ReadJob> read_job(const BatchPlan& plan) {
        if (!schema_) init_schema(plan);
        auto parser = spare_parser_ ? std::move(spare_parser_) : std::make_unique<simdjson::dom::parser>();
        return std::unique_ptr<ReadJob>(
            new ReadJob(plan, read_, schema_->fields(), options_.format, std::move(parser), schema_version_));
    }

    // Takes a job's rows after run(): records an evolved schema and the files that failed.
    [[nodiscard]] SourceBatch finish_read(ReadJob& job, SourceBatch batch) {
        if (job.cancelled_.load())
            detail::throw_error<config_error>("FileSource::finish_read: the read job of batch " +
                                              std::to_string(job.plan_.batch_id) + " was cancelled; its rows are incomplete");
        // A job made before the previous batch's finish_read would put back the older schema.
        if (job.schema_version_ != schema_version_)
            detail::throw_error<config_error>(
                "FileSource::finish_read: the read job was made with schema version " +
                std::to_string(job.schema_version_) + " but the source is now at version " +
                std::to_string(schema_version_) + "; make each read job after the previous batch's finish_read");
        if (job.parser_) spare_parser_ = std::move(job.parser_);  // keeps its buffers for the next job
        failed_.clear();
        for (const auto& f : batch.failed_files) {
            failed_.insert(f.file);
            notices_.push_back(SourceNotice{f.file, f.reason});
        }
        if (!(job.schema_after_ == *schema_)) {
            schema_ = job.schema_after_;
            ++schema_version_;
            log_->save_schema(schema_version_, *schema_);
        }
        batch.schema_version = schema_version_;
        return batch;
    }

    [[nodiscard]] SourceBatch read(const BatchPlan& plan) override {
        auto job = read_job(plan);
        return finish_read(*job, job->run());
    }
    void commit(const BatchPlan& plan) override {
        BatchPlan done = plan;
        // Files that could not be read are not marked seen: a later plan tries them again.
        std::erase_if(done.files, [&](const SourceFile& f) { return failed_.count(f.path) > 0; });
        for (const auto& f : plan.files)
            if (failed_.count(f.path)) failed_sizes_[f.path] = f;
        log_->commit(done);
        failed_.clear();
        if (in_flight_ && in_flight_->batch_id == plan.batch_id) in_flight_.reset();
    }

    [[nodiscard]] Schema schema() const override { return schema_.value_or(Schema{}); }
    [[nodiscard]] std::uint64_t schema_version() const noexcept { return schema_version_; }
    [[nodiscard]] const FileSourceOptions& options() const noexcept { return options_; }
    [[nodiscard]] SeenFileLog& log() noexcept { return *log_; }

    // Notices since the last call (overwritten files not re-read, unreadable files).
    [[nodiscard]] std::vector<SourceNotice> take_notices() { return std::exchange(notices_, {}); }

private:
    static std::int64_t now_ns() {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    // A file is taken only if no part of its path below the root (directories included)
    // starts with '.' or '_', whether a listing or a notification found it: a notification
    // from inside a hidden directory (a writer's staging area) must not take its files.
    [[nodiscard]] bool eligible_name(const std::filesystem::path& p) const {
        const std::string name = p.filename().string();
        if (name.empty() || detail::hidden_name(name)) return false;
        if (!options_.path_glob_filter.empty() && !detail::glob_match(options_.path_glob_filter, name)) return false;
        if (!options_.recursive_file_lookup) return true;
        // Paths are root_ / relative: skip root_'s components, check the directories after them.
        std::size_t skip = root_parts_;
        for (const auto& part : p.parent_path()) {
            if (part.empty()) continue;
            if (skip) {
                --skip;
                continue;
            }
            if (detail::hidden_name(part.string())) return false;
        }
        return true;
    }

    // Considers one file; queues it when it is settled, new (or rewritten, with allow_overwrites)
    // and not yet queued.
    void consider(const std::filesystem::path& path, bool known_closed, std::int64_t now) {
        if (!eligible_name(path)) return;
        const auto st = detail::stat_regular_file(path);
        if (!st) return;
        const std::int64_t mtime = st->mtime_ns;
        const std::uint64_t size = st->size;
        const std::string key = path.string();
        if (queued_.count(key)) return;
        for (const auto* reserved : {&in_flight_, &ahead_})
            if (*reserved)
                for (const auto& f : (*reserved)->files)
                    if (f.path == key) return;
        if (!options_.include_existing_files && mtime < start_time_ns_ && !log_->find(key)) return;
        if (!known_closed && now - mtime < std::chrono::duration_cast<std::chrono::nanoseconds>(options_.settle_time).count())
            return;  // may still be written to
        if (auto it = failed_sizes_.find(key); it != failed_sizes_.end()) {
            if (it->second.size == size && it->second.mtime_ns == mtime) return;  // unchanged since it failed
            failed_sizes_.erase(it);
        }
        if (auto seen = log_->find(key)) {
            if (seen->size == size && seen->mtime_ns == mtime) return;
            if (!options_.allow_overwrites) {
                const std::string tag = key + "@" + std::to_string(mtime);
                if (reported_overwrites_.insert(tag).second)
                    notices_.push_back(SourceNotice{key, "file was rewritten after batch " + std::to_string(seen->batch_id) +
                                                             " read it; not read again (allow_overwrites is false)"});
                return;
            }
        }
        enqueue(SourceFile{key, size, mtime});
    }

    // The oldest queued files, up to the batch limits.
    [[nodiscard]] std::vector<SourceFile> take_from_queue() {
        std::vector<SourceFile> files;
        std::uint64_t bytes = 0;
        std::size_t taken = 0;
        while (taken < queue_.size() && files.size() < options_.max_files_per_trigger) {
            const SourceFile& f = queue_[taken];
            if (options_.max_bytes_per_trigger && !files.empty() && bytes + f.size > options_.max_bytes_per_trigger)
                break;
            bytes += f.size;
            queued_.erase(f.path);
            files.push_back(f);
            ++taken;
        }
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(taken));
        return files;
    }
    [[nodiscard]] static bool before(const SourceFile& a, const SourceFile& b) noexcept {
        return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.path < b.path;
    }
    [[nodiscard]] std::size_t queue_limit() const noexcept {
        const std::size_t limit = options_.max_queued_files ? options_.max_queued_files : std::size_t{100'000};
        return std::max(limit, options_.max_files_per_trigger);
    }

    // During discover() the queue is a heap with the newest file on top: when it is full, a
    // newer candidate is left out and an older one replaces the newest. Either way the files
    // left out are newer than every file kept, so planning from the queue keeps the order,
    // and they are found again by the next listing.
    // A file newer than one left out waits too (for the listing that finds that one), or it
    // would be planned first.
    void enqueue(SourceFile f) {
        if (cutoff_ && !before(f, *cutoff_)) return;
        if (!heap_) {  // made a heap only when a file comes: most plans add none
            std::make_heap(queue_.begin(), queue_.end(), before);
            heap_ = true;
        }
        if (queue_.size() >= queue_limit()) {
            overflow_ = true;
            if (!before(f, queue_.front())) {
                cutoff_ = std::move(f);
                return;
            }
            std::pop_heap(queue_.begin(), queue_.end(), before);
            queued_.erase(queue_.back().path);
            cutoff_ = std::move(queue_.back());  // older than every file left out so far
            queue_.pop_back();
        }
        queued_.insert(f.path);
        queue_.push_back(std::move(f));
        std::push_heap(queue_.begin(), queue_.end(), before);
    }

    void discover() {
        const std::int64_t now = now_ns();
        const auto steady = std::chrono::steady_clock::now();
        bool list = queue_.empty();
        if (watcher_) {
            std::vector<std::filesystem::path> closed;
            const bool complete = watcher_->poll(closed);
            for (const auto& p : closed) consider(p, true, now);
            // Files left out of a full queue are on disk only: list once the queue has drained.
            list = !complete || !listed_once_ || steady - last_listing_ >= options_.listing_interval ||
                   (overflow_ && queue_.empty());
        }
        if (list) {
            overflow_ = false;
            cutoff_.reset();
            std::error_code ec;
            if (!std::filesystem::is_directory(root_, ec))
                detail::throw_error<io_error>("FileSource: '" + root_.string() + "' is not a directory");
            if (options_.recursive_file_lookup) {
                auto it = std::filesystem::recursive_directory_iterator(root_, ec);
                for (; !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
                    const std::string name = it->path().filename().string();
                    if (it->is_directory(ec)) {
                        if (detail::hidden_name(name)) it.disable_recursion_pending();
                        continue;
                    }
                    consider(it->path(), false, now);
                }
            } else {
                for (auto it = std::filesystem::directory_iterator(root_, ec);
                     !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
                    consider(it->path(), false, now);
            }
            listed_once_ = true;
            last_listing_ = steady;
        }
        if (heap_) std::sort_heap(queue_.begin(), queue_.end(), before);
        heap_ = false;
    }

    void init_schema(const BatchPlan& plan) {
        detail::TypeInference inference;
        std::size_t sampled = 0;
        for (const auto& f : plan.files) {
            if (sampled == options_.infer_sample_files) break;
            try {
                auto cursor = detail::make_cursor(options_.format, f.path, f.path, read_, parser_);
                cursor->sample(inference);
                ++sampled;
            } catch (const io_error&) {
                // An unreadable file is reported when the batch is read.
            }
        }
        auto fields = inference.result(options_.infer_column_types);
        detail::apply_hints(fields, parse_schema_hints(options_.schema_hints));
        schema_ = Schema(std::move(fields));
        schema_version_ = 1;
        log_->save_schema(schema_version_, *schema_);
    }

    FileSourceOptions options_;
    std::shared_ptr<SeenFileLog> log_;
    std::filesystem::path root_;
    std::size_t root_parts_ = 0;  // root_'s non-empty components, which every listed path starts with
    ReadOptions read_;
    std::optional<Schema> schema_;
    std::uint64_t schema_version_ = 0;
    std::int64_t start_time_ns_ = 0;
    std::unique_ptr<detail::DirectoryWatcher> watcher_;
    bool listed_once_ = false;
    std::chrono::steady_clock::time_point last_listing_{};
    std::vector<SourceFile> queue_;  // oldest first, at most queue_limit() files
    std::set<std::string> queued_;
    bool heap_ = false;      // queue_ is a heap (newest on top) rather than sorted, in discover()
    bool overflow_ = false;  // a listing or notification found more files than the queue holds
    std::optional<SourceFile> cutoff_;  // then: the oldest file left out
    std::optional<BatchPlan> in_flight_;
    std::optional<BatchPlan> ahead_;  // plan_ahead(): the next plan's files, not yet in the log
    std::set<std::string> failed_;
    std::unordered_map<std::string, SourceFile> failed_sizes_;
    std::set<std::string> reported_overwrites_;
    std::vector<SourceNotice> notices_;
    simdjson::dom::parser parser_;  // schema inference
    std::unique_ptr<simdjson::dom::parser> spare_parser_;  // lent to read jobs
};

}  // namespace isoflow
