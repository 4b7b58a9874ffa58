//! Kernel stacks unwound from generated dumps beyond the bucket rows: past a decoy a scan would
//! take, through small dumps whose images come from an image store, and through every prolog
//! form the generator writes (far saves, 32-bit allocations, chained unwind info, a frame
//! register, a trap handler's machine frame).

use sample_dumps::kernel::kernel_bucket_dump;

use crate::kernel_bucket_vectors::{analyze, case, d, d1, nt, v, write_files, NT};
use crate::support::scratch_dir;

/// A decoy return address between two frames: a stack scan would name it, the unwind data
/// passes over it. The generated dump's stack is laid out as its functions' unwind data says
/// (pushes, small and large allocations, register and XMM saves), so every frame below the
/// context is found by unwinding; the same crash without unwind data shows what a scan does.
#[test]
fn unwinding_passes_over_a_decoy_a_scan_would_take() {
    let dir = scratch_dir("kernel-decoy");
    let mut c = case(
        0xE3,
        [
            v(0xFFFF_C50B_2A4F_7000),
            v(0xFFFF_C50B_2A4F_7100),
            v(0),
            v(2),
        ],
        vec![
            nt("ExReleaseResourceLite"),
            nt("ExpReleaseResourceForThread"),
            d("real.sys", "Worker"),
            d("real.sys", "ThreadStart"),
            nt("PspSystemThreadStartup"),
        ],
        &[NT, "real.sys", "decoy.sys"],
    );
    c.decoys = vec![(1, d("decoy.sys", "Stale"))];
    for (unwind, want) in [(true, "0xE3_real!Worker"), (false, "0xE3_decoy!Stale")] {
        c.unwind = unwind;
        let dump = kernel_bucket_dump(&c).unwrap();
        let symbols = dir.join(format!("symbols-{unwind}"));
        std::fs::create_dir_all(&symbols).unwrap();
        write_files(&symbols, &dump.symbols);
        let path = dir.join(format!("decoy-{unwind}.dmp"));
        std::fs::write(&path, &dump.bytes).unwrap();
        let record = analyze(&path, &symbols, &[]);
        assert_eq!(
            record["failure_bucket"], want,
            "unwind {unwind}: {record:#}"
        );
        let stack = record["kernel"]["stack"].as_array().unwrap();
        if unwind {
            let modules: Vec<&str> = stack.iter().filter_map(|f| f["module"].as_str()).collect();
            assert_eq!(
                modules,
                [
                    "ntoskrnl.exe",
                    "ntoskrnl.exe",
                    "real.sys",
                    "real.sys",
                    "ntoskrnl.exe"
                ],
                "{stack:#?}"
            );
            assert!(
                stack.iter().all(|f| f["trust"] == "call_frame_info"),
                "{stack:#?}"
            );
        } else {
            assert!(stack.iter().all(|f| f["trust"] == "scan"), "{stack:#?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small dump keeps the stack but not the images: their unwind data comes from the image
/// store (`--image-store`, the `<name>/<TIMESTAMP><SIZE>/<name>` layout), and the stack is
/// unwound; without the store it can only be scanned.
#[test]
fn small_dumps_unwind_with_images_from_the_image_store() {
    let dir = scratch_dir("kernel-triage-unwind");
    let mut c = d1("NETIO.SYS", "StreamInvokeCalloutAndNormalizeAction", true);
    c.triage = true;
    let dump = kernel_bucket_dump(&c).unwrap();
    let symbols = dir.join("symbols");
    let store = dir.join("images");
    write_files(&symbols, &dump.symbols);
    write_files(&store, &dump.images);
    let path = dir.join("triage.dmp");
    std::fs::write(&path, &dump.bytes).unwrap();
    // Without the store the dump has neither the unwind data nor the CodeView id that names
    // the symbols: a scanned stack and the image form of the bucket.
    for (with_store, trust, bucket) in [
        (
            true,
            "call_frame_info",
            "AV_NETIO!StreamInvokeCalloutAndNormalizeAction",
        ),
        (false, "scan", "AV_IMAGE_NETIO.SYS"),
    ] {
        let extra: Vec<&str> = if with_store {
            vec!["--image-store", store.to_str().unwrap()]
        } else {
            Vec::new()
        };
        let record = analyze(&path, &symbols, &extra);
        assert_eq!(record["kernel"]["dump_type"], 4, "a triage dump");
        assert_eq!(
            record["failure_bucket"], bucket,
            "store {with_store}: {record:#}"
        );
        let stack = record["kernel"]["stack"].as_array().unwrap();
        assert!(
            !stack.is_empty() && stack.iter().all(|f| f["trust"] == trust),
            "store {with_store}: {stack:#?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stack deep enough that its functions use every prolog template of the generator: pushes,
/// small and large allocations, near and far register and XMM saves, functions whose frames
/// lie in a part described by chained unwind info, a trap handler's machine frame, and
/// KeBugCheckEx's frame register. Every frame is unwound and lands on the address the
/// generator wrote.
#[test]
fn every_generated_prolog_form_and_chained_info_unwinds() {
    let dir = scratch_dir("kernel-prologs");
    let workers: Vec<String> = (0..7).map(|i| format!("Worker{i}")).collect();
    let mut stack = vec![nt("ExpReleaseResourceForThread")];
    stack.extend(workers.iter().map(|w| d("deep.sys", w)));
    // A trap handler: the frame above it is the interrupted Worker3, reached through the
    // machine frame (UWOP_PUSH_MACHFRAME) the handler's unwind data describes.
    stack.insert(4, nt("KiPageFault"));
    stack.push(nt("PspSystemThreadStartup"));
    let c = case(
        0xE3,
        [
            v(0xFFFF_C50B_2A4F_7000),
            v(0xFFFF_C50B_2A4F_7100),
            v(0),
            v(2),
        ],
        stack.clone(),
        &[NT, "deep.sys"],
    );
    let dump = kernel_bucket_dump(&c).unwrap();
    let symbols = dir.join("symbols");
    std::fs::create_dir_all(&symbols).unwrap();
    write_files(&symbols, &dump.symbols);
    let path = dir.join("deep.dmp");
    std::fs::write(&path, &dump.bytes).unwrap();
    for mode in [&[][..], &["--signature-only"][..]] {
        let record = analyze(&path, &symbols, mode);
        let frames: Vec<(String, String)> = record["kernel"]["stack"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let name = f["symbol"]["function"].as_str().unwrap_or("?");
                (name.to_owned(), f["trust"].as_str().unwrap().to_owned())
            })
            .collect();
        let names: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
        let want: Vec<&str> = stack.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, want, "{mode:?}: {frames:#?}");
        assert!(
            frames.iter().all(|(_, t)| t == "call_frame_info"),
            "{frames:#?}"
        );
        assert_eq!(record["failure_bucket"], "0xE3_deep!Worker0", "{record:#}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
