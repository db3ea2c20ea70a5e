//! A child process that cannot outlive its test.

use std::io::ErrorKind;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process, killed (SIGKILL) and reaped when dropped, so a test that
/// fails half-way leaves none behind.
#[derive(Debug)]
pub struct Process {
    child: Child,
}

impl Process {
    /// Starts `command` with standard input closed. Panics when it cannot
    /// start, naming `what` (say how to install it there: the message adds
    /// whether the program is missing from `PATH`).
    pub fn spawn(command: &mut Command, what: &str) -> Process {
        match command.stdin(Stdio::null()).spawn() {
            Ok(child) => Process { child },
            Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                "cannot start {what}: `{}` is not on PATH",
                command.get_program().to_string_lossy()
            ),
            Err(e) => panic!("cannot start {what}: {e}"),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, once the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The process's standard output, when it was piped (only once).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The process's standard error, when it was piped (only once).
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// Sends the signal `name` (`TERM`, `STOP`, `CONT`…) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.id().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -{name} {} failed", self.id());
    }

    /// Waits up to `within` for the process to end: its exit status, or
    /// `None` if it still runs.
    pub fn wait_for_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process at once (SIGKILL: no goodbye, no cleanup) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "cannot start a test program: `no-such-program-here` is not on PATH")]
    fn a_missing_program_is_named() {
        Process::spawn(&mut Command::new("no-such-program-here"), "a test program");
    }

    #[test]
    #[cfg(target_os = "linux")] // reads /proc
    fn dropping_kills_the_process() {
        let process = Process::spawn(Command::new("sleep").arg("60"), "sleep");
        let proc_entry = format!("/proc/{}", process.id());
        drop(process);
        assert!(!std::path::Path::new(&proc_entry).exists());
    }

    #[test]
    fn a_terminated_process_reports_its_exit() {
        let mut process = Process::spawn(Command::new("sleep").arg("60"), "sleep");
        assert_eq!(process.exited(), None);
        process.signal("TERM");
        let status = process.wait_for_exit(Duration::from_secs(10));
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    }
}
