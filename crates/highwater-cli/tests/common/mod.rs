//! Helpers shared by the integration tests of the `highwater` binary: the
//! binary itself, scratch folders and sample data.

// Each test binary (one per file in `tests/`) uses a part of this module.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A command for the `highwater` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_highwater"))
}

/// Runs `highwater` with `args` to the end; its status and output.
pub fn highwater(args: &[&str]) -> Output {
    bin()
        .args(args)
        .output()
        .expect("the highwater binary runs")
}

/// The stderr of a finished run, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch folder of this test process, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    /// An empty folder `highwater-cli-{tag}-{pid}` in the temporary folder.
    pub fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("highwater-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch");
        Scratch(d)
    }
    /// The folder itself.
    pub fn dir(&self) -> &Path {
        &self.0
    }
    /// The path of `name` in the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// The path of `name` in the folder, as a string for a command line.
    pub fn s(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
    /// A sparse file `name` of `len` zero bytes (no disk I/O to make or read); its path as a string.
    pub fn sparse(&self, name: &str, len: u64) -> String {
        File::create(self.path(name))
            .and_then(|f| f.set_len(len))
            .expect("sparse file");
        self.s(name)
    }
    /// The names in the folder, sorted.
    pub fn names(&self) -> Vec<String> {
        names_in(&self.0)
    }
}

impl Drop for Scratch {
    /// Removes the folder and everything in it.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The names in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Writes `len` bytes of a pattern to `path` and returns them.
pub fn sample(path: &Path, len: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..len)
        .map(|i| (i * 7 % 253) as u8 ^ (i >> 10) as u8)
        .collect();
    std::fs::write(path, &data).expect("sample");
    data
}

/// Spawns `highwater recv 127.0.0.1:0 ARGS…` with `stdout`, and waits for
/// its first stderr line: the child, the address it listens on, and a
/// thread collecting the rest of its stderr.
pub fn spawn_listening(args: &[&str], stdout: Stdio) -> (Child, String, JoinHandle<String>) {
    let mut child = bin()
        .args(["recv", "127.0.0.1:0"])
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recv");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut first = String::new();
    err.read_line(&mut first).expect("first line");
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        rest
    });
    (child, addr, rest)
}

/// Waits until `ready()` holds (checked every few milliseconds): the way a
/// test waits for a readiness signal it can only observe (a file appears, a
/// file grows), never a fixed sleep. Panics with `what` after 60 s.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The size of the file at `path`, 0 if there is none.
pub fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
