//! Serde helpers writing 64-bit values as `0x…` strings (docs/json.md: JSON numbers lose
//! precision above 2^53 in most consumers).

use serde::Serializer;

/// A `u64` as `0x…`.
pub fn hex<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{value:#x}"))
}

/// An `Option<u64>` as `0x…` or null.
pub fn hex_opt<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.serialize_str(&format!("{v:#x}")),
        None => s.serialize_none(),
    }
}

/// A `[u64; 4]` (bug-check parameters) as four `0x…` strings.
pub fn hex_array4<S: Serializer>(value: &[u64; 4], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(4))?;
    for v in value {
        seq.serialize_element(&format!("{v:#018x}"))?;
    }
    seq.end()
}

/// A `u32` code (bug check, exception) as `0x` + 8 hex digits.
pub fn hex_u32<S: Serializer>(value: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{value:#010x}"))
}

/// A PE timestamp as 8 lowercase hex digits (as WER writes them), or null.
pub fn hex8_opt<S: Serializer>(value: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.serialize_str(&format!("{v:08x}")),
        None => s.serialize_none(),
    }
}

/// A list of 64-bit values as `0x…` strings.
pub fn hex_vec<S: Serializer>(value: &[u64], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(value.len()))?;
    for v in value {
        seq.serialize_element(&format!("{v:#x}"))?;
    }
    seq.end()
}

/// Named registers as an object `{"rip": "0x…", …}` in register order.
pub fn hex_registers<S: Serializer>(
    value: &[(&'static str, u64)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(value.len()))?;
    for (name, v) in value {
        map.serialize_entry(name, &format!("{v:#x}"))?;
    }
    map.end()
}
