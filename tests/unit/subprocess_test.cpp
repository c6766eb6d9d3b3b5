// core/subprocess: exit codes, the environment, redirections, descriptors, process groups,
// signals, privilege drop, exec failures reported to the parent, and many threads spawning
// while others allocate and change the environment.
#include "core/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace metricsd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SubprocessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("metricsd-subprocess-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  // Runs `sh -c line` with stdout and stderr in out.txt; returns the exit code.
  int sh(const std::string& line, SubprocessSpec spec = {}) {
    spec.argv = {"/bin/sh", "-c", line};
    spec.stdout_ = Stdio::to_file((dir_ / "out.txt").string());
    spec.stderr_ = Stdio::to_stdout();
    return run_subprocess(spec);
  }
  std::string out() const { return slurp(dir_ / "out.txt"); }
  fs::path dir_;
};

TEST_F(SubprocessTest, ExitCodesAndSignalsComeBack) {
  EXPECT_EQ(sh("exit 0"), 0);
  EXPECT_EQ(sh("exit 3"), 3);
  EXPECT_EQ(sh("kill -9 $$"), 128 + SIGKILL);
  SubprocessSpec spec;
  spec.argv = {"/bin/sh", "-c", "exit 7"};
  Spawned s = spawn_subprocess(spec);
  ASSERT_TRUE(s.started()) << s.describe_failure();
  int status = wait_subprocess(s.pid);
  EXPECT_EQ(exit_code_of(status), 7);
  EXPECT_EQ(describe_wait_status(status), "exit code 7");
}

TEST_F(SubprocessTest, EnvironmentIsInheritedSetAndRemoved) {
  ::setenv("METRICSD_SUBPROCESS_KEEP", "kept", 1);
  ::setenv("METRICSD_SUBPROCESS_DROP", "dropped", 1);
  ::setenv("METRICSD_SUBPROCESS_REPLACE", "old", 1);
  SubprocessSpec spec;
  spec.env_set = {{"METRICSD_SUBPROCESS_NEW", "a b=c"}, {"METRICSD_SUBPROCESS_REPLACE", "new"}};
  spec.env_remove = {"METRICSD_SUBPROCESS_DROP"};
  EXPECT_EQ(sh("env | grep '^METRICSD_SUBPROCESS_' | sort", spec), 0);
  EXPECT_EQ(out(),
            "METRICSD_SUBPROCESS_KEEP=kept\n"
            "METRICSD_SUBPROCESS_NEW=a b=c\n"
            "METRICSD_SUBPROCESS_REPLACE=new\n");
  // The parent's own environment is untouched.
  EXPECT_STREQ(std::getenv("METRICSD_SUBPROCESS_DROP"), "dropped");
  EXPECT_STREQ(std::getenv("METRICSD_SUBPROCESS_REPLACE"), "old");
  EXPECT_EQ(std::getenv("METRICSD_SUBPROCESS_NEW"), nullptr);
  ::unsetenv("METRICSD_SUBPROCESS_KEEP");
  ::unsetenv("METRICSD_SUBPROCESS_DROP");
  ::unsetenv("METRICSD_SUBPROCESS_REPLACE");
}

TEST_F(SubprocessTest, OutputGoesToFilesDescriptorsAndDevNull) {
  // stdout and stderr to one file, in order.
  EXPECT_EQ(sh("echo one; echo two >&2; echo three"), 0);
  EXPECT_EQ(out(), "one\ntwo\nthree\n");
  // A new run truncates; append keeps.
  EXPECT_EQ(sh("echo again"), 0);
  EXPECT_EQ(out(), "again\n");
  SubprocessSpec append;
  append.argv = {"/bin/sh", "-c", "echo more"};
  append.stdout_ = Stdio::to_file((dir_ / "out.txt").string(), true);
  EXPECT_EQ(run_subprocess(append), 0);
  EXPECT_EQ(out(), "again\nmore\n");
  // Separate streams; stderr to a descriptor of the caller's, which stays open.
  int err_fd = ::open((dir_ / "err.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(err_fd, 0);
  SubprocessSpec split;
  split.argv = {"/bin/sh", "-c", "echo to-out; echo to-err >&2"};
  split.stdout_ = Stdio::to_file((dir_ / "o.txt").string());
  split.stderr_ = Stdio::from_fd(err_fd);
  EXPECT_EQ(run_subprocess(split), 0);
  EXPECT_EQ(fcntl(err_fd, F_GETFD), FD_CLOEXEC) << "the caller's descriptor is still its own";
  ::close(err_fd);
  EXPECT_EQ(slurp(dir_ / "o.txt"), "to-out\n");
  EXPECT_EQ(slurp(dir_ / "err.txt"), "to-err\n");
  // stdin from a file, and from /dev/null.
  { std::ofstream(dir_ / "in.txt") << "input line\n"; }
  SubprocessSpec in;
  in.stdin_ = Stdio::to_file((dir_ / "in.txt").string());
  EXPECT_EQ(sh("cat", in), 0);
  EXPECT_EQ(out(), "input line\n");
  SubprocessSpec none;
  none.stdin_ = Stdio::null();
  EXPECT_EQ(sh("cat; echo end", none), 0);
  EXPECT_EQ(out(), "end\n");
}

TEST_F(SubprocessTest, ARedirectThatCannotBeOpenedThrowsAndStartsNothing) {
  SubprocessSpec spec;
  spec.argv = {"/bin/true"};
  spec.stdout_ = Stdio::to_file((dir_ / "no-such-dir" / "out.txt").string());
  EXPECT_THROW(spawn_subprocess(spec), std::system_error);
}

TEST_F(SubprocessTest, ExecFailureIsReportedWithItsErrnoAndExits127) {
  SubprocessSpec missing;
  missing.argv = {(dir_ / "no-such-program").string()};
  Spawned s = spawn_subprocess(missing);
  EXPECT_FALSE(s.started());
  EXPECT_EQ(s.failed_step, "exec");
  EXPECT_EQ(s.error, ENOENT);
  EXPECT_NE(s.describe_failure().find("No such file or directory"), std::string::npos)
      << s.describe_failure();
  EXPECT_EQ(exit_code_of(wait_subprocess(s.pid)), 127);

  { std::ofstream(dir_ / "not-executable") << "#!/bin/sh\nexit 0\n"; }
  SubprocessSpec denied;
  denied.argv = {(dir_ / "not-executable").string()};
  s = spawn_subprocess(denied);
  EXPECT_EQ(s.failed_step, "exec");
  EXPECT_EQ(s.error, EACCES);
  EXPECT_EQ(exit_code_of(wait_subprocess(s.pid)), 127);
  EXPECT_EQ(run_subprocess(denied), 127);
}

TEST_F(SubprocessTest, PathSearchFindsProgramsLikeExecvp) {
  SubprocessSpec spec;
  spec.argv = {"sh", "-c", "exit 5"};
  spec.search_path = true;
  EXPECT_EQ(run_subprocess(spec), 5);
  // Without the search, "sh" is a relative path that does not exist here.
  spec.search_path = false;
  std::error_code ec;
  auto cwd = fs::current_path();
  fs::current_path(dir_);
  Spawned s = spawn_subprocess(spec);
  fs::current_path(cwd);
  EXPECT_EQ(s.error, ENOENT);
  wait_subprocess(s.pid);
  // A directory of $PATH holding a non-executable file of that name, then the real one.
  { std::ofstream(dir_ / "metricsd-fake-tool") << "#!/bin/sh\nexit 0\n"; }
  const std::string old_path = std::getenv("PATH");
  ::setenv("PATH", (dir_.string() + ":/nonexistent").c_str(), 1);
  SubprocessSpec fake;
  fake.argv = {"metricsd-fake-tool"};
  fake.search_path = true;
  s = spawn_subprocess(fake);
  EXPECT_EQ(s.error, EACCES) << "like execvp, EACCES wins over a later ENOENT";
  wait_subprocess(s.pid);
  fs::permissions(dir_ / "metricsd-fake-tool", fs::perms::owner_all, fs::perm_options::replace);
  EXPECT_EQ(run_subprocess(fake), 0);
  ::setenv("PATH", old_path.c_str(), 1);
}

TEST_F(SubprocessTest, OtherDescriptorsAreClosedOnlyWhenAsked) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);  // without O_CLOEXEC, like a socket Asio opened
  const std::string check = "[ -e /proc/self/fd/" + std::to_string(p[1]) + " ]";
  SubprocessSpec keep;
  EXPECT_EQ(sh(check, keep), 0);
  SubprocessSpec close_them;
  close_them.close_other_fds = true;
  EXPECT_EQ(sh(check, close_them), 1);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(SubprocessTest, NewProcessGroupIsTheChildsOwn) {
  SubprocessSpec spec;
  spec.new_process_group = true;
  spec.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30"};
  Spawned s = spawn_subprocess(spec);
  ASSERT_TRUE(s.started());
  EXPECT_EQ(::getpgid(s.pid), s.pid);
  ASSERT_EQ(::kill(-s.pid, SIGKILL), 0);  // the whole group
  EXPECT_EQ(exit_code_of(wait_subprocess(s.pid)), 128 + SIGKILL);
}

TEST_F(SubprocessTest, SignalMaskIsClearedAndSigpipeRestoredWhenAsked) {
  // A blocked signal in the parent thread is not blocked in the child.
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, &old);
  EXPECT_EQ(sh("kill -USR1 $$; exit 0"), 128 + SIGUSR1);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // An ignored SIGPIPE stays ignored unless default_sigpipe.
  auto previous = ::signal(SIGPIPE, SIG_IGN);
  EXPECT_EQ(sh("kill -PIPE $$; exit 0"), 0);
  SubprocessSpec dfl;
  dfl.default_sigpipe = true;
  EXPECT_EQ(sh("kill -PIPE $$; exit 0", dfl), 128 + SIGPIPE);
  ::signal(SIGPIPE, previous);
}

TEST_F(SubprocessTest, ParentDeathSignalFollowsTheSpawningThread) {
  pid_t child = -1;
  std::thread spawner([&] {
    SubprocessSpec spec;
    spec.argv = {"/bin/sleep", "30"};
    spec.parent_death_signal = SIGTERM;
    child = spawn_subprocess(spec).pid;
  });
  spawner.join();  // the thread that spawned it ends: the child gets SIGTERM
  auto status = wait_subprocess_for(child, 10s);
  if (!status) ::kill(child, SIGKILL), wait_subprocess(child);
  ASSERT_TRUE(status.has_value()) << "the child outlived its spawning thread";
  EXPECT_EQ(exit_code_of(*status), 128 + SIGTERM);
}

TEST_F(SubprocessTest, RunAsDropsToAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  SubprocessSpec spec;
  spec.run_as = std::make_pair(uid_t{65534}, gid_t{65534});
  EXPECT_EQ(sh("echo $(id -u):$(id -g):$(id -G)", spec), 0);
  EXPECT_EQ(out(), "65534:65534:65534\n");
}

TEST_F(SubprocessTest, WaitForGivesNulloptWhileRunning) {
  SubprocessSpec spec;
  spec.argv = {"/bin/sleep", "30"};
  Spawned s = spawn_subprocess(spec);
  EXPECT_FALSE(wait_subprocess_for(s.pid, 50ms).has_value());
  ::kill(s.pid, SIGKILL);
  auto status = wait_subprocess_for(s.pid, 5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describe_wait_status(*status), "killed by signal 9");
}

// fork in a threaded program: a child that allocated or used stdio between fork and exec
// could hang on a lock another thread held at the fork. Many spawns from several threads
// while others allocate and open files must all complete.
TEST_F(SubprocessTest, SpawnsWhileOtherThreadsAllocateAndOpenFiles) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int t = 0; t < 2; ++t)
    busy.emplace_back([&] {
      for (int i = 0; !stop; ++i) {
        std::vector<std::string> garbage(64, std::string(100 + i % 500, 'x'));
        if (FILE* f = std::fopen("/dev/null", "w")) {
          std::fputs(garbage[i % 64].c_str(), f);
          std::fclose(f);
        }
      }
    });
  std::vector<std::thread> spawners;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    spawners.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        SubprocessSpec spec;
        spec.argv = {"/bin/true"};
        spec.env_set = {{"X", std::to_string(i)}};
        spec.stdout_ = Stdio::null();
        if (run_subprocess(spec) == 0) ++ok;
      }
    });
  for (auto& t : spawners)
    t.join();
  stop = true;
  for (auto& t : busy)
    t.join();
  EXPECT_EQ(ok.load(), 100);
}

}  // namespace
}  // namespace metricsd
