//! The user-mode rows of `../shared/spec/failure-bucket-vectors.tsv`, public `!analyze` output:
//! for every row whose crash a minidump can express, `sample-dumps` generates that crash (the
//! process, the faulting module, the exception, Application Verifier, a Breakpad symbol file
//! naming the function) and the analysis must give the row's bucket and FAILURE_ID_HASH, on
//! both paths. The rows a minidump cannot express are listed (docs/buckets.md) and counted.

use sample_dumps::minidump::buckets::{bucket_dump, BucketCase, FaultSite};
use serde_json::Value;

use crate::support::{run, scratch_dir, shared_dir, BIN};

/// Raw names of the C++ functions whose bucket form is sanitized.
const RAW_NAMES: [(&str, &str); 3] = [
    (
        "node::AsyncResource::CallbackScope::_CallbackScope",
        "node::AsyncResource::CallbackScope::~CallbackScope",
    ),
    (
        "ATL::IConnectionPointImpl_CBthRadioManager,_IID_IMediaRadioManagerNotifySink,ATL::CComDynamicUnkArray_::Unadvise",
        "ATL::IConnectionPointImpl<CBthRadioManager,&IID_IMediaRadioManagerNotifySink,ATL::CComDynamicUnkArray>::Unadvise",
    ),
    (
        "rtc::FunctorMessageHandler_bool,_lambda_at_.._.._third_party_webrtc_pc_rtpsender.cc:109:22__::OnMessage",
        "rtc::FunctorMessageHandler<bool,(lambda at ../../third_party/webrtc/pc/rtpsender.cc:109:22)>::OnMessage",
    ),
];

/// Why a row cannot be generated as a minidump, if it cannot.
fn gap(class: &str, image: &str) -> Option<&'static str> {
    let class = class.to_ascii_uppercase();
    if class.starts_with("CLR_EXCEPTION") {
        Some("managed code: the CLR exception object is not in a minidump we generate")
    } else if class.starts_with("WRONG_SYMBOLS") {
        Some("symbols that do not match the image")
    } else if class.starts_with("HEAP_CORRUPTION_ACTIONABLE") {
        Some("the heap analysis that names the corruption kind")
    } else if class.starts_with("FAIL_FAST_STACK_BUFFER_OVERRUN") {
        Some("the GS frame analysis behind the fast-fail sub-class")
    } else if image == "heap_corruption" && class.starts_with("BREAKPOINT") {
        Some("a heap verifier breakpoint, told apart by heap analysis")
    } else if image.starts_with("image") && !image.contains('.') {
        Some("a module without a name (`image<base>`)")
    } else {
        None
    }
}

/// The case a row describes: `CLASS[_AVRF]_<code>_<image>!<function>`.
fn case_of(bucket: &str) -> Result<BucketCase, &'static str> {
    let (left, function) = bucket.split_once('!').ok_or("no `!`")?;
    // The code is the last `_<7 or 8 hex digits>_` token before the image.
    let bytes = left.as_bytes();
    let mut code_at = None;
    for start in 0..bytes.len() {
        for len in [8usize, 7] {
            let end = start + 1 + len;
            if bytes.get(start) == Some(&b'_')
                && bytes.get(end) == Some(&b'_')
                && left
                    .get(start + 1..end)
                    .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            {
                code_at = Some((start, end));
            }
        }
    }
    let (start, end) = code_at.ok_or("no exception code")?;
    let code = u32::from_str_radix(&left[start + 1..end], 16).map_err(|_| "bad code")?;
    let class = &left[..start];
    let image = &left[end + 1..];
    if let Some(why) = gap(class, image) {
        return Err(why);
    }
    let upper = class.to_ascii_uppercase();
    let (class, verifier) = match upper.strip_suffix("_AVRF") {
        Some(c) => (c.to_owned(), true),
        None => (upper.clone(), false),
    };
    let app = if image.to_ascii_lowercase().ends_with(".exe") {
        image.to_owned()
    } else {
        "app.exe".to_owned()
    };
    let raw = RAW_NAMES
        .iter()
        .find(|(sanitized, _)| *sanitized == function)
        .map_or(function, |(_, raw)| raw);
    let named = |f: &str| (!f.eq_ignore_ascii_case("unknown")).then(|| f.to_owned());
    let mut case = BucketCase {
        app,
        site: FaultSite::Module(image.to_owned()),
        code,
        parameters: Vec::new(),
        function: named(raw),
        verifier,
        instruction: None,
    };
    let data = |kind: u64, address: u64| vec![Some(kind), Some(address)];
    match class.as_str() {
        "NULL_POINTER_READ" => case.parameters = data(0, 0),
        "NULL_POINTER_WRITE" => case.parameters = data(1, 0),
        "NULL_CLASS_PTR_READ" => {
            // mov eax, [rcx+0x10] with rcx = 0
            case.parameters = data(0, 0x10);
            case.instruction = Some(vec![0x8B, 0x41, 0x10]);
        }
        "NULL_CLASS_PTR_WRITE" => {
            // mov [rcx+0x10], eax with rcx = 0
            case.parameters = data(1, 0x10);
            case.instruction = Some(vec![0x89, 0x41, 0x10]);
        }
        "INVALID_POINTER_READ" => case.parameters = data(0, 0x1234_5678),
        "INVALID_POINTER_WRITE" => case.parameters = data(1, 0x1234_5678),
        "INVALID_POINTER_READ_FILL_PATTERN_41414141" => case.parameters = data(0, 0x4141_4141),
        "SOFTWARE_NX_FAULT" => case.parameters = vec![Some(8), None],
        "INVALID_POINTER_EXECUTE" => {
            case.parameters = vec![Some(8), None];
            case.site = FaultSite::Nowhere;
            case.function = None;
        }
        "STACK_OVERFLOW_STACK_POINTER_MISMATCH" => {
            case.site = FaultSite::Nowhere;
            case.function = None;
        }
        "HEAP_CORRUPTION" => {
            // `heap_corruption!<exe>`: the process names the bucket.
            case.app = function.to_owned();
            case.site = FaultSite::Module(function.to_owned());
            case.function = None;
        }
        "BREAKPOINT" | "APPLICATION_FAULT" | "FAIL_FAST_EXCEPTION" => {}
        _ => return Err("a class this test does not know how to build"),
    }
    Ok(case)
}

#[test]
fn every_expressible_user_mode_row_gives_its_bucket_and_hash() {
    let tsv = std::fs::read_to_string(shared_dir().join("spec/failure-bucket-vectors.tsv"))
        .expect("failure-bucket-vectors.tsv");
    let dir = scratch_dir("bucket-vectors");
    let symbols = dir.join("symbols");
    let (mut checked, mut gaps) = (0, Vec::new());
    for (n, line) in tsv.lines().enumerate() {
        let cells: Vec<&str> = line.split('\t').collect();
        let (Some(&"um"), Some(bucket), Some(hash)) = (cells.first(), cells.get(1), cells.get(2))
        else {
            continue;
        };
        let case = match case_of(bucket) {
            Ok(case) => case,
            Err(why) => {
                gaps.push(format!("{bucket}: {why}"));
                continue;
            }
        };
        let dump = bucket_dump(&case);
        let path = dir.join(format!("row{n}.dmp"));
        std::fs::write(&path, &dump.bytes).unwrap();
        if let Some((rel, text)) = &dump.symbols {
            let file = symbols.join(rel);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        for mode in [&[][..], &["--signature-only"][..]] {
            let mut args = vec!["analyze", "--json", "--symbols", symbols.to_str().unwrap()];
            args.extend_from_slice(mode);
            args.push(path.to_str().unwrap());
            let r = run(BIN, &args);
            let record: Value = r.json_lines().remove(0);
            let got = record["failure_bucket"].as_str().unwrap_or_default();
            assert!(
                got.eq_ignore_ascii_case(bucket),
                "row {n} {mode:?}: {bucket}\n  got {got}\n{}",
                r.stderr
            );
            assert_eq!(
                record["failure_id_hash"], *hash,
                "row {n} {mode:?}: {bucket}"
            );
        }
        checked += 1;
    }
    for g in &gaps {
        eprintln!("not generated: {g}");
    }
    // 43 user-mode rows: the generator expresses 34; the 9 others are the gaps of
    // docs/buckets.md.
    assert_eq!((checked, gaps.len()), (34, 9), "{gaps:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}
