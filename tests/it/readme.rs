//! The README's usage section must stay true to `--help` (lychee's
//! `tests/usage.rs` does the same), and the two commands it gives must be the
//! ones CI runs.

use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

#[test]
fn readme_usage_is_the_help_output() {
    let readme = readme();
    let start = readme.find("<!-- usage:start").expect("usage:start marker");
    let block = &readme[start..];
    let open = block.find("```text\n").expect("```text block") + "```text\n".len();
    let close = block[open..].find("```").expect("closing fence") + open;
    let documented = &block[open..close];
    let out = assert_cmd::Command::cargo_bin("fundwatch")
        .unwrap()
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        documented.trim_end(),
        help.trim_end(),
        "README.md usage differs from `fundwatch --help`: paste the new help between the markers"
    );
}

#[test]
fn ci_runs_the_readme_test_command() {
    let ci =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run")).unwrap();
    assert!(
        readme().contains("cargo test "),
        "the README gives `cargo test`"
    );
    assert!(
        ci.lines().any(|l| l.trim_start().starts_with("cargo test")),
        ".ci/run runs cargo test"
    );
}
