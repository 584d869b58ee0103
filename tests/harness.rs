//! The rule for tests that need something from the machine (tests/common/harness.rs), tested
//! on itself: this test binary runs again with `PATH` emptied, where a test needing promtool
//! must be ignored with its reason outside CI, and fail naming it in CI.

mod common;

use std::process::{Command, ExitCode};

use common::{requires, Need};

/// Set for the run of this binary in which only [`FIXTURE`] is listed.
const FIXTURE_ENV: &str = "TIC_REC_HARNESS_FIXTURE";
const FIXTURE: &str = "fixture_needs_promtool";

fn main() -> ExitCode {
    let tests: Vec<(&'static str, fn())> = if std::env::var_os(FIXTURE_ENV).is_some() {
        vec![
            (FIXTURE, fixture_needs_promtool),
            ("fixture_needs_nothing", fixture_needs_nothing),
        ]
    } else {
        vec![
            (
                "ci_is_true_for_a_true_value_only",
                ci_is_true_for_a_true_value_only,
            ),
            (
                "a_stray_test_attribute_is_found",
                a_stray_test_attribute_is_found,
            ),
            (
                "an_unmet_need_is_ignored_with_its_reason_outside_ci_and_fails_in_ci",
                an_unmet_need_is_ignored_with_its_reason_outside_ci_and_fails_in_ci,
            ),
        ]
    };
    common::harness::run(
        file!(),
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", file!())),
        tests,
    )
}

fn fixture_needs_promtool() {
    requires(&[Need::Promtool]);
    panic!("promtool was found on an empty PATH");
}

fn fixture_needs_nothing() {
    requires(&[]);
}

fn ci_is_true_for_a_true_value_only() {
    for (ci, is) in [
        (None, false),
        (Some(""), false),
        (Some("0"), false),
        (Some("false"), false),
        (Some("FALSE"), false),
        (Some("no"), false),
        (Some(" off "), false),
        (Some("true"), true),
        (Some("1"), true),
        (Some("yes"), true),
    ] {
        assert_eq!(common::harness::ci_is_true(ci), is, "CI={ci:?}");
    }
}

fn a_stray_test_attribute_is_found() {
    let source =
        "mod common;\n\n#[test]\nfn a() {}\n    #[test]\n    fn b() {}\n// #[test] in words\n";
    assert_eq!(common::harness::stray_test_attributes(source), [3, 5]);
}

/// This binary, with only the fixtures listed, `PATH` empty and `CI` as given: whether it
/// passed, and its output with runs of spaces made one.
fn fixture_run(ci: Option<&str>) -> (bool, String) {
    let exe = std::env::current_exe().expect("this test binary");
    let mut c = Command::new(exe);
    c.env(FIXTURE_ENV, "1")
        .env("PATH", "")
        .env_remove("CI")
        .args(["--test-threads", "1"]);
    if let Some(ci) = ci {
        c.env("CI", ci);
    }
    let out = c.output().expect("run the fixtures");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Names are padded to one width: one space between words.
    let text = text
        .lines()
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    (out.status.success(), text)
}

fn an_unmet_need_is_ignored_with_its_reason_outside_ci_and_fails_in_ci() {
    let (ok, text) = fixture_run(None);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!(
            "test {FIXTURE} ... ignored (needs promtool: not on PATH (Debian package prometheus"
        )),
        "{text}"
    );
    assert!(text.contains("test fixture_needs_nothing ... ok"), "{text}");
    assert!(
        text.contains("test result: ok. 2 passed; 0 failed; 1 ignored;"),
        "{text}"
    );
    for ci in ["true", "1"] {
        let (ok, text) = fixture_run(Some(ci));
        assert!(!ok, "CI={ci}: {text}");
        assert!(
            text.contains(&format!("test {FIXTURE} ... FAILED")),
            "{text}"
        );
        assert!(
            text.contains("needs promtool: not on PATH") && text.contains("CI is set"),
            "{text}"
        );
        assert!(text.contains("0 ignored"), "{text}");
    }
    let (ok, text) = fixture_run(Some("false"));
    assert!(ok && text.contains("1 ignored"), "CI=false: {text}");
}
