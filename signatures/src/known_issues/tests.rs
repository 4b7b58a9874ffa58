//! Verdicts on the seed's dump-path issue and the rule parser's errors.

use super::*;

fn module(name: &str, version: Option<&str>) -> IssueModule {
    IssueModule {
        name: name.into(),
        version: version.map(Into::into),
        timestamp: 0x4D34_1F2E,
        size: 0x6980,
        version_source: None,
    }
}

/// A Stop 0xD1 in the dump stack with a virtual miniport's dump clone loaded.
fn dump_path(diskdump: Option<&str>, line: &str) -> IssueFacts {
    IssueFacts {
        code: 0xD1,
        faulting_module: Some("dump_diskdump.sys".into()),
        modules: vec![
            module(r"\SystemRoot\system32\ntoskrnl.exe", Some("6.1.7600.16385")),
            module("crashdmp.sys", Some("6.1.7600.16385")),
            module("dump_diskdump.sys", diskdump),
            module("dump_vmstorfl.sys", None),
        ],
        os_build_line: Some(line.into()),
        attributes: 0x1,
    }
}

fn verdict_of(facts: &IssueFacts) -> Verdict {
    let verdicts = evaluate(builtin_rules(), facts);
    let v: Vec<&Verdict> = verdicts
        .iter()
        .filter(|v| v.rule_id == "dump-path-virtual-miniport")
        .collect();
    assert_eq!(v.len(), 1, "{verdicts:?}");
    v[0].clone()
}

#[test]
fn builtin_rules_parse_cleanly() {
    let (rules, errors) = parse_rules(BUILTIN_TEXT);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(rules.len(), 6);
    assert_eq!(builtin_rules().len(), 6);
    let seed = &rules[0];
    assert_eq!(seed.fixed.len(), 2);
    assert_eq!(seed.lines(), vec!["6.0.6002", "6.1.7600"]);
    for id in [
        "kb976746-hibernate-busy-storage",
        "kb945119-storport-pause-resume",
        "kb939315-storport-shutdown",
        "kb2277440-msdsm-alua",
        "kb976748-msdsm-after-mpio",
    ] {
        assert!(rules.iter().any(|r| r.id == id), "{id}");
    }
}

#[test]
fn gdr_rtm_version_is_fix_missing() {
    let v = verdict_of(&dump_path(
        Some("6.1.7600.16385 (win7_rtm.090713-1255)"),
        "6.1.7600",
    ));
    assert_eq!(v.verdict, VerdictKind::FixMissing);
    assert!(
        v.reason
            .contains("dump_diskdump.sys (diskdump.sys) version 6.1.7600.16385"),
        "{}",
        v.reason
    );
    assert!(
        v.reason.contains("not released to") && v.reason.contains("6.1.7600.20882"),
        "{}",
        v.reason
    );
    assert!(
        v.context
            .contains(&"crashed while hibernating (HiberCrash)".to_owned()),
        "{:?}",
        v.context
    );
    assert!(
        v.context.iter().any(|c| c.contains("dump_vmstorfl.sys")),
        "{:?}",
        v.context
    );
    // Below the fix on the LDR branch itself.
    let v = verdict_of(&dump_path(Some("6.0.6002.22100"), "6.0.6002.18005"));
    assert_eq!(v.verdict, VerdictKind::FixMissing);
    assert!(
        v.reason.contains("below the fixed version 6.0.6002.22588"),
        "{}",
        v.reason
    );
    let v = verdict_of(&dump_path(Some("6.0.6002.18005"), "6.0.6002"));
    assert_eq!(v.verdict, VerdictKind::FixMissing);
}

#[test]
fn fixed_version_or_later_is_a_regression() {
    let v = verdict_of(&dump_path(Some("6.1.7600.20882"), "6.1.7600"));
    assert_eq!(v.verdict, VerdictKind::Regression);
    assert!(
        v.reason
            .contains("at or above the fixed version 6.1.7600.20882"),
        "{}",
        v.reason
    );
    assert_eq!(
        verdict_of(&dump_path(Some("6.1.7600.21050"), "6.1.7600")).verdict,
        VerdictKind::Regression
    );
    let json = serde_json::to_string(&v).unwrap_or_default();
    assert!(json.contains("\"verdict\":\"regression\""), "{json}");
}

#[test]
fn unknown_version_is_known_with_the_image_store_key() {
    let v = verdict_of(&dump_path(None, "6.1.7600"));
    assert_eq!(v.verdict, VerdictKind::Known);
    assert!(
        v.reason.contains("diskdump.sys/4D341F2E6980/diskdump.sys"),
        "{}",
        v.reason
    );
    assert!(
        v.reason.contains("timestamp 4D341F2E") && v.reason.contains("SizeOfImage 6980"),
        "{}",
        v.reason
    );
    assert!(
        v.reason.contains("module dump_diskdump.sys"),
        "{}",
        v.reason
    );
    let json = serde_json::to_string(&v).unwrap_or_default();
    assert!(json.contains("\"verdict\":\"known\""), "{json}");
}

#[test]
fn other_lines_are_not_applicable() {
    let v = verdict_of(&dump_path(Some("6.1.7601.17514"), "6.1.7601"));
    assert_eq!(v.verdict, VerdictKind::NotApplicable);
    assert!(
        v.reason.contains("6.1.7601 is not one the rule covers"),
        "{}",
        v.reason
    );
    let json = serde_json::to_string(&v).unwrap_or_default();
    assert!(json.contains("\"verdict\":\"not-applicable\""), "{json}");
    // Without an OS line the file version's line decides.
    let mut f = dump_path(Some("6.1.7600.16385"), "");
    f.os_build_line = None;
    assert_eq!(verdict_of(&f).verdict, VerdictKind::FixMissing);
}

#[test]
fn conditions_must_hold() {
    // No miniport dump clone loaded: only the port and filter clones.
    let mut f = dump_path(Some("6.1.7600.16385"), "6.1.7600");
    f.modules.retain(|m| m.name != "dump_vmstorfl.sys");
    f.modules.push(module("dump_dumpfve.sys", None));
    assert!(evaluate(builtin_rules(), &f).is_empty());
    // A different faulting module or stop code.
    let mut f = dump_path(Some("6.1.7600.16385"), "6.1.7600");
    f.faulting_module = Some("myfault.sys".into());
    assert!(evaluate(builtin_rules(), &f).is_empty());
    let mut f = dump_path(Some("6.1.7600.16385"), "6.1.7600");
    f.code = 0x50;
    assert!(evaluate(builtin_rules(), &f).is_empty());
    // crashdmp.sys faulting matches too.
    let mut f = dump_path(Some("6.1.7600.16385"), "6.1.7600");
    f.faulting_module = Some("crashdmp.sys".into());
    assert_eq!(verdict_of(&f).verdict, VerdictKind::FixMissing);
}

#[test]
fn reference_only_rules_are_known() {
    let f = IssueFacts {
        code: 0xD1,
        faulting_module: Some("msdsm.sys".into()),
        modules: vec![module("msdsm.sys", Some("6.0.6002.18005"))],
        os_build_line: Some("6.0.6002".into()),
        attributes: 0,
    };
    let v = evaluate(builtin_rules(), &f);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v.iter().all(|v| v.verdict == VerdictKind::Known));
    assert!(v.iter().any(|v| v.reason.contains("KB 2277440")));
    let f = IssueFacts {
        os_build_line: Some("6.1.7600".into()),
        ..f
    };
    assert!(evaluate(builtin_rules(), &f)
        .iter()
        .all(|v| v.verdict == VerdictKind::NotApplicable));
}

#[test]
fn introduced_range() {
    let facts = |version: &str| IssueFacts {
        code: 0x9C,
        faulting_module: None,
        modules: vec![module("storport.sys", Some(version))],
        os_build_line: Some("5.2.3790".into()),
        attributes: 0,
    };
    let v = evaluate(builtin_rules(), &facts("5.2.3790.4021"));
    assert_eq!(v[0].verdict, VerdictKind::Known);
    assert!(v[0].reason.contains("carries the issue"), "{}", v[0].reason);
    let v = evaluate(builtin_rules(), &facts("5.2.3790.3959"));
    assert_eq!(v[0].verdict, VerdictKind::NotApplicable);
    // A user rule with a full range [introduced, fixed).
    let (rules, errors) = parse_rules(
        "[r]\ntitle = t\nstop = 0x9C\nfile = storport.sys\nintroduced = 5.2.3790 5.2.3790.4021\nfixed = 5.2.3790 5.2.3790.4100\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        evaluate(&rules, &facts("5.2.3790.4050"))[0].verdict,
        VerdictKind::FixMissing
    );
    assert_eq!(
        evaluate(&rules, &facts("5.2.3790.4100"))[0].verdict,
        VerdictKind::Regression
    );
    assert_eq!(
        evaluate(&rules, &facts("5.2.3790.4000"))[0].verdict,
        VerdictKind::NotApplicable
    );
}

#[test]
fn parse_errors_carry_line_numbers_and_good_rules_survive() {
    let text = "\
stray = line
[good]
title = fine
stop = 0xD1
[bad-key]
title = x
stop = 0xD1
colour = blue
[no-title]
stop = 0xA
[bad-version]
title = v
stop = 0xA
file = a.sys
fixed = 6.1.7600 6.1.7601.1
[bad id!]
title = y
stop = 0xA
[good]
title = again
stop = 0x50
[no-equals]
title = z
stop 0xA
";
    let (rules, errors) = parse_rules(text);
    assert_eq!(
        rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["good"]
    );
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 8, 9, 15, 16, 19, 22, 24], "{errors:?}");
    assert!(errors[1].message.contains("unknown key \"colour\""));
    assert!(errors[2].message.contains("no title"));
    assert!(errors[3].message.contains("not on OS line"));
    assert!(errors[5].message.contains("defined twice"));
    assert!(errors[6].message.contains("names no stop"));
    // User rules replace built-ins of the same id and add to the rest.
    let (user, _) = parse_rules("[dump-path-virtual-miniport]\ntitle = mine\nstop = 0xD1\n");
    let all = with_builtin(user);
    assert_eq!(all.len(), builtin_rules().len());
    assert_eq!(all[0].title, "mine");
}

#[test]
fn versions_wanted_names_the_module_a_store_would_settle() {
    let rules = with_builtin(Vec::new());
    let facts = dump_path(None, "6.1.7600");
    let wanted = versions_wanted(&rules, &facts);
    assert_eq!(wanted.len(), 1, "{wanted:?}");
    let w = &wanted[0];
    assert_eq!(w.file, "diskdump.sys");
    assert!(facts.modules[w.module].name.ends_with("dump_diskdump.sys"));

    // With the version filled in (as from an image store), nothing more is wanted and the
    // reason names the source.
    let mut filled = facts.clone();
    filled.modules[w.module].version = Some("6.1.7600.16385".into());
    filled.modules[w.module].version_source = Some("image store /s".into());
    assert!(versions_wanted(&rules, &filled).is_empty());
    let v = evaluate(&rules, &filled);
    let d = v
        .iter()
        .find(|v| v.rule_id == "dump-path-virtual-miniport")
        .unwrap();
    assert_eq!(d.verdict, VerdictKind::FixMissing);
    assert!(d.reason.contains("(from image store /s)"), "{}", d.reason);

    // A version already known: no lookup.
    assert!(versions_wanted(&rules, &dump_path(Some("6.1.7600.20882"), "6.1.7600")).is_empty());
}
