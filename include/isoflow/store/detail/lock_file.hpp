// Exclusive ownership of a storage folder: a lock on `<storage>/LOCK` held while a store is open.
// flock() on POSIX (released by the kernel when the process dies, even by SIGKILL, so a crash
// never leaves a stale lock); an unshared handle on Windows.
#pragma once

#include <filesystem>
#include <string>
#include <utility>

#include "isoflow/core/error.hpp"

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#endif

namespace isoflow::detail::store {

class LockFile {
public:
    LockFile() = default;
    LockFile(const LockFile&) = delete;
    LockFile& operator=(const LockFile&) = delete;
    LockFile(LockFile&& o) noexcept { swap(o); }
    LockFile& operator=(LockFile&& o) noexcept {
        LockFile tmp(std::move(o));
        swap(tmp);
        return *this;
    }
    ~LockFile() { release(); }

    // Takes the lock on `file` or throws io_error: held by another process (naming its pid when
    // it wrote one), or the folder is not writable.
    [[nodiscard]] static LockFile acquire(const std::filesystem::path& file) {
        LockFile lock;
        const std::string name = file.string();
#if defined(_WIN32)
        lock.handle_ = CreateFileW(file.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_ALWAYS,
                                   FILE_ATTRIBUTE_NORMAL, nullptr);
        if (lock.handle_ == INVALID_HANDLE_VALUE) {
            const DWORD e = GetLastError();
            lock.handle_ = nullptr;
            if (e == ERROR_SHARING_VIOLATION || e == ERROR_LOCK_VIOLATION)
                throw_error<io_error>("storage '" + file.parent_path().string() +
                                      "' is in use by another process (lock file '" + name +
                                      "'); only one pipeline may open a storage at a time");
            throw_error<io_error>("cannot create lock file '" + name + "' (Windows error " +
                                  std::to_string(e) + "): is the storage read-only?");
        }
#else
        lock.fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (lock.fd_ < 0) {
            const int e = errno;
            if (e == EROFS || e == EACCES || e == EPERM)
                throw_error<io_error>("storage '" + file.parent_path().string() +
                                      "' is read-only: cannot create lock file '" + name + "' (" +
                                      std::strerror(e) + ")");
            throw_error<io_error>("cannot create lock file '" + name + "': " + std::strerror(e));
        }
        while (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            if (e == EWOULDBLOCK) {
                std::string holder = read_all(lock.fd_);
                while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
                if (holder == std::to_string(::getpid()))
                    throw_error<io_error>("storage '" + file.parent_path().string() +
                                          "' is already open in this process (lock file '" + name +
                                          "'); use the open store instead of opening it twice");
                throw_error<io_error>("storage '" + file.parent_path().string() +
                                      "' is in use by another process" +
                                      (holder.empty() ? std::string() : " (pid " + holder + ")") +
                                      ": lock file '" + name +
                                      "' is held; only one pipeline may open a storage at a time");
            }
            throw_error<io_error>("cannot lock '" + name + "': " + std::strerror(e));
        }
        // Our pid, for the message another process shows; the lock itself is what counts.
        const std::string pid = std::to_string(::getpid()) + "\n";
        if (::ftruncate(lock.fd_, 0) == 0) {
            [[maybe_unused]] const auto n = ::pwrite(lock.fd_, pid.data(), pid.size(), 0);
        }
#endif
        return lock;
    }

    void release() noexcept {
#if defined(_WIN32)
        if (handle_) CloseHandle(handle_);
        handle_ = nullptr;
#else
        if (fd_ >= 0) ::close(fd_);  // closing the descriptor drops the flock
        fd_ = -1;
#endif
    }

private:
    void swap(LockFile& o) noexcept {
#if defined(_WIN32)
        std::swap(handle_, o.handle_);
#else
        std::swap(fd_, o.fd_);
#endif
    }
#if defined(_WIN32)
    HANDLE handle_ = nullptr;
#else
    static std::string read_all(int fd) {
        std::string out;
        char buf[64];
        ssize_t n = 0;
        off_t at = 0;
        while ((n = ::pread(fd, buf, sizeof buf, at)) > 0 && out.size() < 64) {
            out.append(buf, static_cast<std::size_t>(n));
            at += n;
        }
        return out;
    }
    int fd_ = -1;
#endif
};

}  // namespace isoflow::detail::store
