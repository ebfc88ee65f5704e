//! `--atomic` as a user runs it: it replaces only regular files, keeps the
//! replaced file's mode and owner, writes through symbolic links, and
//! `recv` creates nothing until data arrives. Real files in a scratch
//! folder, the real binary.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;
use common::{bin, highwater, names_in, spawn_listening, stderr, Scratch};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a helper command (`mknod`, `mkfifo`), true if it worked.
fn run(cmd: &str, args: &[&str]) -> bool {
    match Command::new(cmd).args(args).stderr(Stdio::piped()).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!("NOTE: {cmd} {args:?} failed: {}", stderr(&o).trim());
            false
        }
        Err(e) => {
            eprintln!("NOTE: {cmd} cannot run: {e}");
            false
        }
    }
}

/// `copy SRC DST --atomic` must be refused as a usage error, in one line,
/// leaving the destination and its folder as they were.
fn assert_refused(s: &Scratch, dst: &str, what: &str, before: &[String]) {
    let out = highwater(&["copy", &s.s("in.txt"), dst, "--atomic"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
    assert!(err.starts_with("highwater: "), "{what}: {err}");
    assert!(err.contains(what), "{what}: says what it is: {err}");
    assert!(err.contains("--atomic"), "{what}: {err}");
    assert_eq!(s.names(), before, "{what}: nothing created or removed");
}

#[test]
fn atomic_refuses_a_character_device_and_leaves_it_alone() {
    let s = Scratch::new("chr");
    std::fs::write(s.path("in.txt"), b"new").expect("in");
    // What /dev/full is, made here: never the real one.
    if !run("mknod", &[&s.s("full"), "c", "1", "7"]) {
        eprintln!("SKIPPED: cannot make a device node here (not root?)");
        return;
    }
    let before = s.names();
    assert_refused(&s, &s.s("full"), "character device", &before);
    let m = std::fs::symlink_metadata(s.path("full")).expect("still there");
    assert!(m.file_type().is_char_device(), "still a character device");
    assert_eq!(
        m.rdev(),
        std::fs::metadata("/dev/full").expect("/dev/full").rdev()
    );

    // Through a symbolic link, the same.
    std::os::unix::fs::symlink("full", s.path("link")).expect("symlink");
    let before = s.names();
    assert_refused(&s, &s.s("link"), "character device", &before);
    assert!(std::fs::symlink_metadata(s.path("link"))
        .expect("link")
        .file_type()
        .is_symlink());
}

#[test]
fn atomic_refuses_a_fifo_and_a_socket_which_plain_copy_writes_in_place() {
    let s = Scratch::new("fifo");
    std::fs::write(s.path("in.txt"), b"through the fifo").expect("in");
    let _listener =
        std::os::unix::net::UnixListener::bind(s.path("sock")).expect("bind a unix socket");
    let before = s.names();
    assert_refused(&s, &s.s("sock"), "socket", &before);
    assert!(std::fs::symlink_metadata(s.path("sock"))
        .expect("sock")
        .file_type()
        .is_socket());

    if !run("mkfifo", &[&s.s("fifo")]) {
        eprintln!("SKIPPED: mkfifo failed");
        return;
    }
    let before = s.names();
    assert_refused(&s, &s.s("fifo"), "FIFO", &before);
    assert!(std::fs::symlink_metadata(s.path("fifo"))
        .expect("fifo")
        .file_type()
        .is_fifo());

    // Without --atomic the FIFO is written in place, and stays a FIFO.
    let fifo = s.path("fifo");
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        File::open(fifo)
            .expect("open the fifo")
            .read_to_end(&mut got)
            .expect("read the fifo");
        got
    });
    let out = highwater(&["copy", &s.s("in.txt"), &s.s("fifo")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(reader.join().expect("reader"), b"through the fifo");
    assert!(std::fs::symlink_metadata(s.path("fifo"))
        .expect("fifo")
        .file_type()
        .is_fifo());
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").mode() & 0o7777
}

#[test]
fn atomic_keeps_the_mode_of_the_file_it_replaces() {
    let s = Scratch::new("mode");
    std::fs::write(s.path("in.txt"), b"the new content").expect("in");
    std::fs::set_permissions(s.path("in.txt"), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    for m in [0o600, 0o640, 0o4755, 0o444] {
        let dst = s.path("out.txt");
        let _ = std::fs::remove_file(&dst);
        std::fs::write(&dst, b"old").expect("old");
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(m)).expect("chmod");
        let out = highwater(&["copy", &s.s("in.txt"), &s.s("out.txt"), "--atomic"]);
        assert!(out.status.success(), "{m:o}: {}", stderr(&out));
        assert_eq!(std::fs::read(&dst).expect("out"), b"the new content");
        assert_eq!(mode(&dst), m, "mode {m:o} kept");
        assert_eq!(s.names(), ["in.txt", "out.txt"], "no temporary file");
    }
    // No file to replace: the mode a plain create gives (0666 less the umask).
    File::create(s.path("plain")).expect("plain");
    let out = highwater(&["copy", &s.s("in.txt"), &s.s("new.txt"), "--atomic"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&s.path("new.txt")), mode(&s.path("plain")));
}

#[test]
fn the_temporary_file_is_private_while_it_is_written() {
    let s = Scratch::new("private");
    std::fs::write(s.path("in.bin"), vec![7u8; 1 << 20]).expect("in");
    let dst = s.path("secret");
    std::fs::write(&dst, b"old").expect("old");
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // About a second at 1 MiB/s: time to look at the temporary file.
    let mut child = bin()
        .args(["copy", &s.s("in.bin"), &s.s("secret"), "--atomic"])
        .args(["--rate", "1MiB", "--chunk-size", "64KiB"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let tmp = s.path(&format!(".secret.highwater-{}.tmp", child.id()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        if let Ok(m) = std::fs::metadata(&tmp) {
            break Some(m.mode() & 0o7777);
        }
        if matches!(child.try_wait(), Ok(Some(_))) || Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = seen.expect("the temporary file was seen while the copy ran");
    assert_eq!(seen & 0o077, 0, "temporary file mode {seen:o}: private");
    assert_eq!(mode(&dst), 0o600);
    assert_eq!(std::fs::metadata(&dst).expect("dst").len(), 1 << 20);
}

#[test]
fn atomic_keeps_the_owner_of_the_file_it_replaces() {
    if !is_root() {
        eprintln!("SKIPPED: only root can give a file to another user");
        return;
    }
    let s = Scratch::new("owner");
    std::fs::write(s.path("in.txt"), b"the new content").expect("in");
    let dst = s.path("out.txt");
    std::fs::write(&dst, b"old").expect("old");
    std::os::unix::fs::chown(&dst, Some(12345), Some(12345)).expect("chown");
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o2750)).expect("chmod");
    let out = highwater(&[
        "copy",
        &s.s("in.txt"),
        &s.s("out.txt"),
        "--atomic",
        "--fsync",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = std::fs::metadata(&dst).expect("out");
    assert_eq!((m.uid(), m.gid()), (12345, 12345), "owner and group kept");
    assert_eq!(m.mode() & 0o7777, 0o2750, "mode kept (set after the owner)");
    assert_eq!(std::fs::read(&dst).expect("out"), b"the new content");
}

fn is_link_to(p: &Path, to: &str) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::read_link(p).is_ok_and(|t| t == Path::new(to))
}

#[test]
fn atomic_writes_through_symbolic_links() {
    let s = Scratch::new("link");
    std::fs::write(s.path("in.txt"), b"the new content").expect("in");
    for d in ["a", "b", "c"] {
        std::fs::create_dir(s.path(d)).expect("dir");
    }
    let run = |dst: &str| {
        let out = highwater(&["copy", &s.s("in.txt"), &s.s(dst), "--atomic"]);
        assert!(out.status.success(), "{dst}: {}", stderr(&out));
    };

    // A link beside its target.
    std::fs::write(s.path("a/target"), b"old").expect("old");
    std::fs::set_permissions(s.path("a/target"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    std::os::unix::fs::symlink("target", s.path("a/link")).expect("symlink");
    run("a/link");
    assert!(is_link_to(&s.path("a/link"), "target"), "still a link");
    assert_eq!(
        std::fs::read(s.path("a/target")).expect("t"),
        b"the new content"
    );
    assert_eq!(mode(&s.path("a/target")), 0o600, "the target's mode kept");

    // A relative link in another folder (relative to the link's folder).
    std::fs::write(s.path("b/target"), b"old").expect("old");
    std::os::unix::fs::symlink("../b/target", s.path("c/rel")).expect("symlink");
    run("c/rel");
    assert!(is_link_to(&s.path("c/rel"), "../b/target"), "still a link");
    assert_eq!(
        std::fs::read(s.path("b/target")).expect("t"),
        b"the new content"
    );
    assert_eq!(
        names_in(&s.path("c")),
        ["rel"],
        "nothing left beside the link"
    );

    // A chain of two links, the last one absolute.
    std::fs::write(s.path("b/chained"), b"old").expect("old");
    std::os::unix::fs::symlink(s.path("b/chained"), s.path("c/second")).expect("symlink");
    std::os::unix::fs::symlink("../c/second", s.path("a/first")).expect("symlink");
    run("a/first");
    assert!(is_link_to(&s.path("a/first"), "../c/second"));
    assert!(is_link_to(&s.path("c/second"), &s.s("b/chained")));
    assert_eq!(
        std::fs::read(s.path("b/chained")).expect("t"),
        b"the new content"
    );

    // A dangling link: the file is created where it points.
    std::os::unix::fs::symlink("../b/missing", s.path("a/dangling")).expect("symlink");
    run("a/dangling");
    assert!(is_link_to(&s.path("a/dangling"), "../b/missing"));
    assert_eq!(
        std::fs::read(s.path("b/missing")).expect("t"),
        b"the new content"
    );

    assert_eq!(
        names_in(&s.path("a")),
        ["dangling", "first", "link", "target"]
    );
    assert_eq!(names_in(&s.path("b")), ["chained", "missing", "target"]);

    // A loop of links: a clear error, nothing created.
    std::os::unix::fs::symlink("loop2", s.path("c/loop1")).expect("symlink");
    std::os::unix::fs::symlink("loop1", s.path("c/loop2")).expect("symlink");
    let out = highwater(&["copy", &s.s("in.txt"), &s.s("c/loop1"), "--atomic"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("symbolic links"), "{err}");
    assert_eq!(names_in(&s.path("c")), ["loop1", "loop2", "rel", "second"]);
}

/// A running `highwater recv`, killed if a test fails before it exits.
struct Receiver {
    child: Child,
    addr: String,
    stderr: Option<JoinHandle<String>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn spawn_recv(file: &str, atomic: bool) -> Receiver {
    let args: &[&str] = if atomic { &[file, "--atomic"] } else { &[file] };
    let (child, addr, stderr) = spawn_listening(args, Stdio::null());
    Receiver {
        child,
        addr,
        stderr: Some(stderr),
    }
}

impl Receiver {
    fn finish(&mut self) -> (ExitStatus, String) {
        let status = self.child.wait().expect("wait recv");
        let err = self.stderr.take().map(|h| h.join().unwrap_or_default());
        (status, err.unwrap_or_default())
    }
}

/// The sockets process `pid` holds (`socket:[inode]` links in /proc).
fn sockets(pid: u32) -> HashSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|l| l.to_string_lossy().into_owned())
                .filter(|l| l.starts_with("socket:"))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until process `pid` holds a socket it did not hold before (the
/// accepted connection): the receiver took the connection.
fn wait_accepted(pid: u32, before: &HashSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while sockets(pid).is_subset(before) {
        assert!(Instant::now() < deadline, "the receiver never accepted");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn recv_creates_nothing_before_data_arrives_even_when_killed() {
    let s = Scratch::new("recv-kill");
    std::fs::create_dir(s.path("out")).expect("out");
    for atomic in [false, true] {
        for signal in ["-TERM", "-KILL"] {
            let what = format!("atomic={atomic} kill {signal}");
            let mut recv = spawn_recv(&s.s("out/out.bin"), atomic);
            assert!(
                names_in(&s.path("out")).is_empty(),
                "{what}: created while listening"
            );
            let pid = recv.child.id();
            let before = sockets(pid);
            let conn = TcpStream::connect(&recv.addr).expect("connect");
            wait_accepted(pid, &before);
            assert!(
                names_in(&s.path("out")).is_empty(),
                "{what}: created on connection"
            );
            let killed = Command::new("kill")
                .args([signal, &pid.to_string()])
                .status()
                .expect("kill");
            assert!(killed.success());
            let (status, err) = recv.finish();
            drop(conn);
            if signal == "-TERM" {
                assert_eq!(status.code(), Some(130), "{what}: {err}");
            }
            assert!(
                names_in(&s.path("out")).is_empty(),
                "{what}: {:?}",
                names_in(&s.path("out"))
            );
        }
    }
}

#[test]
fn recv_writes_what_the_sender_sent_and_an_empty_transfer_makes_an_empty_file() {
    let s = Scratch::new("recv-data");
    for atomic in [false, true] {
        for data in [&b"some bytes, then the end"[..], b""] {
            let what = format!("atomic={atomic} {} bytes", data.len());
            let _ = std::fs::remove_file(s.path("out.bin"));
            let mut recv = spawn_recv(&s.s("out.bin"), atomic);
            let mut conn = TcpStream::connect(&recv.addr).expect("connect");
            conn.write_all(data).expect("send");
            conn.shutdown(Shutdown::Write).expect("shutdown");
            // The receiver closes once the file is written.
            let mut rest = Vec::new();
            let _ = conn.read_to_end(&mut rest);
            let (status, err) = recv.finish();
            assert!(status.success(), "{what}: {err}");
            assert_eq!(
                std::fs::read(s.path("out.bin")).expect(&what),
                data,
                "{what}"
            );
            assert_eq!(s.names(), ["out.bin"], "{what}: no temporary file");
        }
    }
}

/// Runs `recv` expecting it to stop before listening: its exit status and
/// stderr (a receiver that listens instead is killed, and the test fails).
fn recv_refused(args: &[&str]) -> (Option<i32>, String) {
    let mut child = bin()
        .args(["recv", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recv");
    let mut err = String::new();
    let mut r = BufReader::new(child.stderr.take().expect("stderr"));
    let _ = r.read_line(&mut err);
    if err.starts_with("listening on") {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{args:?}: listened instead of refusing: {err}");
    }
    let _ = r.read_to_string(&mut err);
    (child.wait().expect("wait").code(), err)
}

#[test]
fn recv_refuses_what_it_cannot_write_before_listening() {
    let s = Scratch::new("recv-refuse");
    let (code, err) = recv_refused(&[&s.s("no/such/folder/out.bin")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with("highwater: ") && !err.contains("listening"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    if !run("mkfifo", &[&s.s("fifo")]) {
        eprintln!("SKIPPED: mkfifo failed");
        return;
    }
    let (code, err) = recv_refused(&[&s.s("fifo"), "--atomic"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with("highwater: --atomic cannot replace"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(std::fs::symlink_metadata(s.path("fifo"))
        .expect("fifo")
        .file_type()
        .is_fifo());
}
