//! The rule for tests that need something from the machine (tests/common/harness.rs), tested
//! on itself: this test binary runs again with `PATH` emptied, where a test needing promtool
//! must be ignored with its reason outside CI, and fail naming it in CI; an opt-in is ignored
//! by name, in CI too, and under the rule when asked for.

mod common;

use std::process::{Command, ExitCode};

use common::{requires, Need};

/// Set for the run of this binary in which only [`FIXTURE`] is listed.
const FIXTURE_ENV: &str = "TIC_REC_HARNESS_FIXTURE";
const FIXTURE: &str = "fixture_needs_promtool";

fn main() -> ExitCode {
    let fixtures = std::env::var_os(FIXTURE_ENV).is_some();
    let tests: Vec<(&'static str, fn())> = if fixtures {
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
            (
                "an_opt_in_is_left_out_of_the_suite_and_under_the_rule_when_asked_for",
                an_opt_in_is_left_out_of_the_suite_and_under_the_rule_when_asked_for,
            ),
        ]
    };
    let opt_in: Vec<(&'static str, fn())> = if fixtures {
        vec![(
            "fixture_opt_in_needs_a_kernel_filesystem",
            fixture_opt_in_needs_a_kernel_filesystem,
        )]
    } else {
        Vec::new()
    };
    common::harness::run(
        file!(),
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", file!())),
        tests,
        opt_in,
    )
}

fn fixture_needs_promtool() {
    requires(&[Need::Promtool]);
    panic!("promtool was found on an empty PATH");
}

fn fixture_needs_nothing() {
    requires(&[]);
}

fn fixture_opt_in_needs_a_kernel_filesystem() {
    requires(&[Need::KernelFilesystem("no-such-filesystem")]);
    panic!("the kernel has no-such-filesystem");
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

/// This binary, with only the fixtures listed, `PATH` empty, `CI` as given and these
/// arguments: whether it passed, and its output with runs of spaces made one.
fn fixture_run(ci: Option<&str>, args: &[&str]) -> (bool, String) {
    let exe = std::env::current_exe().expect("this test binary");
    let mut c = Command::new(exe);
    c.env(FIXTURE_ENV, "1")
        .env("PATH", "")
        .env_remove("CI")
        .args(["--test-threads", "1"])
        .args(args);
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

/// The fixtures but the opt-in.
const SKIP_OPT_IN: &[&str] = &["--skip", "fixture_opt_in"];

fn an_unmet_need_is_ignored_with_its_reason_outside_ci_and_fails_in_ci() {
    let (ok, text) = fixture_run(None, SKIP_OPT_IN);
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
        let (ok, text) = fixture_run(Some(ci), SKIP_OPT_IN);
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
    let (ok, text) = fixture_run(Some("false"), SKIP_OPT_IN);
    assert!(ok && text.contains("1 ignored"), "CI=false: {text}");
}

fn an_opt_in_is_left_out_of_the_suite_and_under_the_rule_when_asked_for() {
    const OPT_IN: &str = "fixture_opt_in_needs_a_kernel_filesystem";
    // Not asked for: not run, not listed, not counted as ignored (a skip in CI fails).
    for ci in [None, Some("true")] {
        let (ok, text) = fixture_run(ci, &[OPT_IN]);
        assert!(ok, "CI={ci:?}: {text}");
        assert!(!text.contains(&format!("test {OPT_IN}")), "{text}");
        assert!(text.contains("0 passed; 0 failed; 0 ignored;"), "{text}");
    }
    // Asked for, its needs are the rule's: ignored with the reason here, failing in CI.
    let (ok, text) = fixture_run(None, &[OPT_IN, "--include-ignored"]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!(
            "test {OPT_IN} ... ignored (needs no-such-filesystem in the running kernel"
        )),
        "{text}"
    );
    let (ok, text) = fixture_run(Some("true"), &[OPT_IN, "--ignored"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("test {OPT_IN} ... FAILED")),
        "{text}"
    );
    assert!(
        text.contains("needs no-such-filesystem in the running kernel")
            && text.contains("CI is set"),
        "{text}"
    );
}
