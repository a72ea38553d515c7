// Change notifications for a directory tree. inotify on Linux (unless ISOFLOW_IO_PORTABLE_ONLY,
// see platform.hpp); elsewhere there is no watcher and the file source relies on listing alone.
#pragma once

#if defined(__linux__) && !defined(ISOFLOW_IO_PORTABLE_ONLY)
#define ISOFLOW_IO_DETAIL_INOTIFY 1
#else
#define ISOFLOW_IO_DETAIL_INOTIFY 0
#endif

#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "isoflow/io/detail/text.hpp"

#if ISOFLOW_IO_DETAIL_INOTIFY
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#endif

namespace isoflow::detail {

class DirectoryWatcher {
public:
    virtual ~DirectoryWatcher() = default;
    // Appends the files that were closed after writing or moved into place since the last call.
    // Returns false when events may have been lost (queue overflow): the caller lists again.
    virtual bool poll(std::vector<std::filesystem::path>& closed) = 0;
};

#if ISOFLOW_IO_DETAIL_INOTIFY
class InotifyWatcher final : public DirectoryWatcher {
public:
    InotifyWatcher(const std::filesystem::path& root, bool recursive) : recursive_(recursive) {
        fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd_ < 0) return;
        watch(root);
        if (recursive_) watch_below(root);
    }
    ~InotifyWatcher() override {
        if (fd_ >= 0) ::close(fd_);
    }
    InotifyWatcher(const InotifyWatcher&) = delete;
    InotifyWatcher& operator=(const InotifyWatcher&) = delete;

    [[nodiscard]] bool ok() const noexcept { return fd_ >= 0; }

    bool poll(std::vector<std::filesystem::path>& closed) override {
        if (fd_ < 0) return false;
        bool complete = true;
        alignas(inotify_event) char buf[1 << 16];
        while (true) {
            const ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n <= 0) break;
            for (ssize_t off = 0; off < n;) {
                const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
                off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
                if (ev->mask & IN_Q_OVERFLOW) {
                    complete = false;
                    continue;
                }
                const auto dir = dirs_.find(ev->wd);
                if (dir == dirs_.end() || ev->len == 0) continue;
                std::filesystem::path p = dir->second / ev->name;
                if (ev->mask & IN_ISDIR) {
                    if (recursive_ && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && !hidden(p)) {
                        // A tree moved into place brings its subdirectories: watch them too.
                        watch(p);
                        watch_below(p);
                        complete = false;  // files may have landed before the watch existed
                    }
                    continue;
                }
                if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) closed.push_back(std::move(p));
            }
        }
        return complete;
    }

private:
    // Directories named .x or _x hold no files the source takes (a writer's staging area):
    // they are not watched, nor is anything below them.
    [[nodiscard]] static bool hidden(const std::filesystem::path& dir) { return hidden_name(dir.filename().string()); }
    void watch_below(const std::filesystem::path& dir) {
        std::error_code ec;
        for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            if (!it->is_directory(ec)) continue;
            if (hidden(it->path()))
                it.disable_recursion_pending();
            else
                watch(it->path());
        }
    }
    void watch(const std::filesystem::path& dir) {
        const int wd = inotify_add_watch(fd_, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
        if (wd >= 0) dirs_[wd] = dir;
    }
    int fd_ = -1;
    bool recursive_;
    std::unordered_map<int, std::filesystem::path> dirs_;
};
#endif

// A watcher for `root`, or nullptr when the platform has none (listing then does the work).
[[nodiscard]] inline std::unique_ptr<DirectoryWatcher> make_watcher(const std::filesystem::path& root, bool recursive) {
#if ISOFLOW_IO_DETAIL_INOTIFY
    auto w = std::make_unique<InotifyWatcher>(root, recursive);
    if (w->ok()) return w;
#else
    (void)root;
    (void)recursive;
#endif
    return nullptr;
}

}  // namespace isoflow::detail
