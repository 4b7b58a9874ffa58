//! CSV output: the columns BlueScreenView users know, then dumpsig's own keys.
//!
//! Rows are built from a report's JSON form (the documented schema), so the CSV can never
//! say something the JSON does not. For a minidump the BlueScreenView columns carry the
//! user-mode equivalents: the exception name and code for the bug check, the exception
//! parameters, the faulting module as the "driver". On the signature path (no walk, no
//! minidump details) the columns the keys know are filled from the CER tuple: the exception,
//! the faulting module, its version and the crash address.
//!
//! One form per column whatever the input: `module+offset` in unpadded hex, times to the
//! second (`2021-02-21T01:38:22Z`; the JSON keeps a kernel dump's 100 ns).

use serde_json::Value;

/// The header row.
pub const CSV_HEADER: &str = "Dump File,Crash Time,Bug Check String,Bug Check Code,\
Parameter 1,Parameter 2,Parameter 3,Parameter 4,Caused By Driver,Caused By Address,\
File Version,Processor,Crash Address,Stack Address 1,Stack Address 2,Stack Address 3,\
OS Version,Process,Process ID,Thread ID,IRQL,Dump File Size,Kind,Error,CER Subpath,Failure Bucket,Failure ID Hash,Verdicts";

/// Quotes a field when it holds a comma, quote, or line break (RFC 4180); a leading `=`,
/// `+`, `-` or `@` is prefixed with `'` so a spreadsheet does not run a dump's text as a
/// formula.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// An RFC 3339 time to the second: `2021-02-21T01:38:22.9877657Z` is `2021-02-21T01:38:22Z`.
fn seconds(time: &str) -> String {
    match time.split_once('.') {
        Some((head, tail)) if tail.ends_with('Z') => format!("{head}Z"),
        _ => time.to_owned(),
    }
}

/// `module+offset` with the offset in unpadded lowercase hex (`0000429e`, `0x429e` -> `429e`).
fn place(module: &str, offset: &str) -> String {
    let digits = offset.trim_start_matches("0x").trim_start_matches('0');
    format!("{module}+{}", if digits.is_empty() { "0" } else { digits })
}

fn number(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .map(|n| match n {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        })
        .unwrap_or_default()
}

/// The kernel report's columns 2..=17.
fn kernel_columns(k: &Value) -> Vec<String> {
    let params: Vec<String> = (0..4)
        .map(|i| text(k, &format!("/bugcheck/parameters/{i}")).to_owned())
        .collect();
    let caused = match (text(k, "/caused_by/driver"), text(k, "/caused_by/offset")) {
        ("", _) => String::new(),
        (d, "") => d.to_owned(),
        (d, o) => place(d, o),
    };
    let stack = |i: usize| {
        let m = text(k, &format!("/stack/{i}/module"));
        let o = text(k, &format!("/stack/{i}/offset"));
        if m.is_empty() {
            text(k, &format!("/stack/{i}/address")).to_owned()
        } else {
            place(m, o)
        }
    };
    let os = match (text(k, "/os/nt_version"), number(k, "/os/build")) {
        ("", b) => b,
        (v, b) => format!("{v}.{b}"),
    };
    let mut cols = vec![
        seconds(text(k, "/crash_time")),
        text(k, "/bugcheck/name").to_owned(),
        text(k, "/bugcheck/code").to_owned(),
    ];
    cols.extend(params);
    cols.extend([
        text(k, "/caused_by/driver").to_owned(),
        caused,
        text(k, "/caused_by/file_version").to_owned(),
        text(k, "/architecture").to_owned(),
        text(k, "/crash_address").to_owned(),
        stack(0),
        stack(1),
        stack(2),
        os,
        text(k, "/process/name").to_owned(),
        number(k, "/process/pid"),
        number(k, "/process/thread_id"),
        number(k, "/process/irql"),
    ]);
    cols
}

/// The minidump report's columns 2..=17.
fn minidump_columns(report: &Value, m: &Value) -> Vec<String> {
    let params: Vec<String> = (0..4)
        .map(|i| text(m, &format!("/exception/parameters/{i}")).to_owned())
        .collect();
    let module = text(report, "/signature/mod_name");
    let offset = text(report, "/signature/offset");
    let frame = |i: usize| {
        let module = text(m, &format!("/crashing_thread/frames/{i}/module"));
        let offset = text(m, &format!("/crashing_thread/frames/{i}/module_offset"));
        let function = text(m, &format!("/crashing_thread/frames/{i}/function"));
        match (module, function) {
            ("", _) => text(m, &format!("/crashing_thread/frames/{i}/instruction")).to_owned(),
            (module, "") => place(module, offset),
            (module, function) => format!("{module}!{function}"),
        }
    };
    let mut cols = vec![
        seconds(text(m, "/dump_time")),
        text(m, "/exception/name").to_owned(),
        text(m, "/exception/code").to_owned(),
    ];
    cols.extend(params);
    cols.extend([
        module.to_owned(),
        // A hang report has no faulting instruction: no address to name (on either path).
        if module.is_empty() || text(report, "/signature/fault_location") == "no_exception" {
            String::new()
        } else {
            place(module, offset)
        },
        text(report, "/signature/mod_ver").to_owned(),
        text(m, "/system/cpu").to_owned(),
        text(m, "/exception/instruction_address").to_owned(),
        frame(0),
        frame(1),
        frame(2),
        text(m, "/system/os_version").to_owned(),
        text(report, "/signature/app_name").to_owned(),
        String::new(),
        number(m, "/exception/thread_id"),
        String::new(),
    ]);
    cols
}

/// The signature path's columns 2..=17: what the CER tuple knows.
fn tuple_columns(t: &Value) -> Vec<String> {
    let code = text(t, "/exception_code");
    let name = u32::from_str_radix(code, 16)
        .ok()
        .and_then(signatures::exception_codes::exception_name)
        .unwrap_or("");
    let module = text(t, "/mod_name");
    // The CER offset is padded to the process's pointer width: 8 or 16 digits.
    let width = text(t, "/offset").len().max(8);
    let address = t
        .get("fault_address")
        .and_then(Value::as_u64)
        .map(|a| format!("0x{a:0width$x}"))
        .unwrap_or_default();
    let no_exception = text(t, "/fault_location") == "no_exception";
    let mut cols = vec![String::new(), name.to_owned()];
    cols.push(if code.is_empty() || no_exception {
        String::new()
    } else {
        format!("0x{code}")
    });
    cols.extend(std::iter::repeat(String::new()).take(4));
    cols.extend([
        module.to_owned(),
        if module.is_empty() || no_exception {
            String::new()
        } else {
            place(module, text(t, "/offset"))
        },
        text(t, "/mod_ver").to_owned(),
        String::new(),
        if no_exception { String::new() } else { address },
    ]);
    cols.extend(std::iter::repeat(String::new()).take(4));
    cols.extend([
        text(t, "/app_name").to_owned(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    cols
}

/// One CSV row (without the line break) for a report's JSON form.
pub fn csv_row(report: &Value) -> String {
    let mut cols = vec![text(report, "/path").to_owned()];
    if let Some(k) = report.get("kernel").filter(|k| !k.is_null()) {
        cols.extend(kernel_columns(k));
    } else if let Some(m) = report.get("minidump").filter(|m| !m.is_null()) {
        cols.extend(minidump_columns(report, m));
    } else if let Some(t) = report.get("signature").filter(|t| !t.is_null()) {
        cols.extend(tuple_columns(t));
    } else {
        cols.extend(std::iter::repeat(String::new()).take(20));
    }
    let verdicts: Vec<String> = report
        .get("known_issues")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|v| format!("{}={}", text(v, "/id"), text(v, "/verdict")))
                .collect()
        })
        .unwrap_or_default();
    cols.extend([
        number(report, "/file_size"),
        text(report, "/kind").to_owned(),
        text(report, "/error").to_owned(),
        text(report, "/cer_subpath").to_owned(),
        text(report, "/failure_bucket").to_owned(),
        text(report, "/failure_id_hash").to_owned(),
        verdicts.join(" "),
    ]);
    cols.iter().map(|c| field(c)).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn columns() -> usize {
        CSV_HEADER.split(',').count()
    }

    #[test]
    fn kernel_row_has_bluescreenview_columns() {
        let r = json!({
            "path": "a.dmp", "kind": "kernel", "file_size": 1024, "error": null,
            "cer_subpath": null, "failure_bucket": "0xD1_IMAGE_dump_diskdump.sys",
            "failure_id_hash": "{x}",
            "kernel": {
                "crash_time": "2011-01-10T03:12:45.0000000Z", "architecture": "x64",
                "crash_address": "0xfffff8800185da2c",
                "bugcheck": {"code": "0x000000d1", "name": "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
                    "parameters": ["0x10", "0xf", "0x0", "0xfffff8800185da2c"]},
                "caused_by": {"driver": "dump_diskdump.sys", "offset": "0x1a2c", "file_version": "6.1.7600.16385"},
                "os": {"nt_version": "6.1", "build": 7600},
                "stack": [{"address": "0x1", "module": "ntoskrnl.exe", "offset": "0x70469"}],
                "process": {"name": "System", "pid": 4, "thread_id": 264, "irql": 2}
            },
            "known_issues": [{"id": "dump-path-virtual-miniport", "verdict": "fix-missing"}]
        });
        let row = csv_row(&r);
        assert_eq!(row.split(',').count(), columns(), "{row}");
        assert_eq!(
            row,
            "a.dmp,2011-01-10T03:12:45Z,DRIVER_IRQL_NOT_LESS_OR_EQUAL,0x000000d1,0x10,0xf,0x0,\
0xfffff8800185da2c,dump_diskdump.sys,dump_diskdump.sys+1a2c,6.1.7600.16385,x64,0xfffff8800185da2c,\
ntoskrnl.exe+70469,,,6.1.7600,System,4,264,2,1024,kernel,,,0xD1_IMAGE_dump_diskdump.sys,{x},\
dump-path-virtual-miniport=fix-missing"
        );
    }

    #[test]
    fn hostile_text_is_quoted_and_defused() {
        let r = json!({"path": "x,\"y\".dmp", "error": "=cmd|' /C calc'!A0", "kind": null});
        let row = csv_row(&r);
        assert!(row.starts_with("\"x,\"\"y\"\".dmp\","), "{row}");
        assert!(row.contains(",'=cmd|' /C calc'!A0,"), "{row}");
    }

    #[test]
    fn failed_inputs_keep_the_column_count() {
        let row = csv_row(&json!({"path": "p", "error": "truncated"}));
        assert_eq!(row.split(',').count(), columns());
    }

    /// The signature path fills the columns the CER tuple knows, in the same forms as the
    /// full path: `module+offset` unpadded, the crash address at the pointer width.
    #[test]
    fn signature_path_row_fills_what_the_tuple_knows() {
        let r = json!({
            "path": "t.dmp", "kind": "minidump", "file_size": 11317, "error": null,
            "cer_subpath": "x", "failure_bucket": "b", "failure_id_hash": "h",
            "minidump": null, "kernel": null,
            "signature": {"mod_name": "test_app.exe", "mod_ver": "0.0.0.0",
                "exception_code": "c0000005", "offset": "0000429e",
                "fault_address": 4211358, "fault_location": "exception_address"},
            "known_issues": []
        });
        let row = csv_row(&r);
        assert_eq!(row.split(',').count(), columns(), "{row}");
        assert!(
            row.starts_with(
                "t.dmp,,EXCEPTION_ACCESS_VIOLATION,0xc0000005,,,,,test_app.exe,test_app.exe+429e,\
0.0.0.0,,0x0040429e,,,,,,,,,11317,minidump"
            ),
            "{row}"
        );
        assert_eq!(
            seconds("2021-02-21T01:38:22.9877657Z"),
            "2021-02-21T01:38:22Z"
        );
        assert_eq!(place("m.dll", "00000000"), "m.dll+0");
    }
}
