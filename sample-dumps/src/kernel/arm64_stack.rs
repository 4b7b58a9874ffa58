//! The ARM64 kernel stack of a generated dump, laid out as each function's unwind data says:
//! the body's frame of `size` bytes, the return address (LR) and the caller's x29 saved where
//! the prolog put them; x29 in each body as its prolog set it.

use super::arm64_unwind::Arm64Layout;
use super::header::Regs;
use super::paging::Machine;
use super::GenError;

/// Writes the frames of `layouts` (the function the processor stopped in first, then the
/// function each return address of `returns` lies in) from `sp` up, with `decoys` (frame
/// index, a return-address-like value) among their locals, and returns the context's
/// registers: PC at `ip`, SP, x29 (as `bp`) and LR (the first return address, as a leaf would
/// have it; the unwinder takes the saved copy).
pub(crate) fn write_arm64_stack(
    m: &mut Machine,
    sp: u64,
    ip: u64,
    returns: &[u64],
    layouts: &[Arm64Layout],
    decoys: &[(usize, u64)],
) -> Result<Regs, GenError> {
    if layouts.len() != returns.len() + 1 {
        return Err(GenError::new(
            "an ARM64 stack needs a layout for the stopped function and each return address",
        ));
    }
    // Each body's SP, and the caller SP of the outermost.
    let mut sps = vec![sp];
    for layout in layouts {
        let last = *sps.last().unwrap_or(&sp);
        sps.push(last + layout.size);
    }
    let body_x29 = |i: usize| -> u64 {
        // A function that does not set x29 keeps its caller's.
        (i..layouts.len())
            .find_map(|k| Some(sps.get(k)? + layouts.get(k)?.x29?))
            .unwrap_or(0)
    };
    for (i, layout) in layouts.iter().enumerate() {
        let body = *sps.get(i).unwrap_or(&sp);
        // The outermost function returns nowhere the walk can follow: LR 0 ends it.
        let ret = returns.get(i).copied().unwrap_or(0);
        if let Some(lr) = layout.lr {
            m.write_ptr(body + lr, ret)?;
        }
        if let Some(fp) = layout.fp {
            m.write_ptr(body + fp, body_x29(i + 1))?;
        }
        // A decoy goes in the first free slot of the frame, where a scan from the body's SP
        // meets it before the saved LR.
        let taken = |o: u64| [layout.lr, layout.fp, layout.fp.map(|f| f + 8)].contains(&Some(o));
        let free = (0..layout.size / 8).map(|k| 8 * k).find(|o| !taken(*o));
        for (_, decoy) in decoys.iter().filter(|(k, _)| *k == i) {
            let slot = free.ok_or_else(|| GenError::new("no room for a decoy in the frame"))?;
            m.write_ptr(body + slot, *decoy)?;
        }
    }
    Ok(Regs {
        ip,
        sp,
        bp: body_x29(0),
        lr: returns.first().copied().unwrap_or(0),
        ..Regs::default()
    })
}
