//! Helpers shared by the unit tests: the fixture texts the differential
//! tests read, and the small deterministic generator of the random ones.
//! Test-only (`#[cfg(test)]` in `lib.rs`).

use std::path::Path;

/// Every UTF-8 text file of the project's fixtures and, when present, of the
/// shared real samples (`../shared/fixtures/real/`), as (path, text). Says
/// so when the real samples are absent.
pub(crate) fn fixture_texts() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("tests/fixtures")];
    let real = root.join("../shared/fixtures/real");
    if real.exists() {
        dirs.push(real);
    } else {
        skipped(format_args!(
            "the real samples ({} is absent); the project's fixtures only",
            real.display()
        ));
    }
    let mut out = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.push((path.display().to_string(), text));
            }
        }
    }
    assert!(out.len() > 20, "fixtures not found");
    out
}

/// Says that a test skips some or all of its work, and why, where a plain
/// `cargo test` shows it: libtest captures what a passing test prints with
/// `eprintln!`, so a skip said that way is never seen. What is written to
/// the stderr handle itself is not captured.
pub(crate) fn skipped(why: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// Marsaglia's xorshift64: the same sequence on every run, so that a random
/// test's failure can be replayed.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A random element of `items`.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}
