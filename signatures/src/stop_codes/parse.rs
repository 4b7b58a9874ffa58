//! Reading the embedded texts: the whole table, or one code's entry alone.

use super::{
    base_code, AddressRule, Decoder, IoStatus, StopCode, SubCode, Table, NAMES_TEXT, TABLE_TEXT,
};

/// Adds every code of the names list the table does not describe, by name only (its
/// parameters undescribed, its culprit from the stack).
pub(super) fn add_names(table: &mut Table, text: &'static str) {
    let mut described: Vec<u32> = table.codes.iter().map(|c| c.code).collect();
    described.sort_unstable();
    let is_described = |code: u32| described.binary_search(&code).is_ok();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once('\t').and_then(|(code, name)| {
            let code = u32::try_from(parse_hex(code)?).ok()?;
            let name = name.trim();
            (!name.is_empty()).then_some((code, name))
        });
        let Some((code, name)) = parsed else {
            table.errors.push(format!(
                "bugcheck-names.tsv line {}: not `<hex> TAB <NAME>`",
                n + 1
            ));
            continue;
        };
        // Described already, or an `_M` variant whose base code is (it shares the meaning).
        if is_described(code) || is_described(base_code(code)) {
            continue;
        }
        table.named.push((code, name));
    }
    // The first name of a code wins, as the list is read.
    table.named.sort_by_key(|&(code, _)| code);
    table.named.dedup_by_key(|&mut (code, _)| code);
}

pub(super) fn parse_hex(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    u64::from_str_radix(digits, 16).ok()
}

fn parse_parameter(text: &'static str) -> Result<(&'static str, Option<Decoder>), String> {
    let text = text.trim();
    let Some(open) = text.rfind('{') else {
        return Ok((text, None));
    };
    let decoder = match text.get(open..).unwrap_or("") {
        "{exception}" => Decoder::Exception,
        "{irql}" => Decoder::Irql,
        "{access_a}" => Decoder::AccessA,
        "{access_d1}" => Decoder::AccessD1,
        "{access_50}" => Decoder::Access50,
        "{sub}" => Decoder::Sub,
        "{io_status}" => Decoder::IoStatus,
        other => return Err(format!("unknown decoder {other}")),
    };
    Ok((text.get(..open).unwrap_or("").trim_end(), Some(decoder)))
}

fn parse_rule(text: &str) -> Result<AddressRule, String> {
    Ok(match text.trim() {
        "P1" => AddressRule::Parameter(1),
        "P2" => AddressRule::Parameter(2),
        "P3" => AddressRule::Parameter(3),
        "P4" => AddressRule::Parameter(4),
        "whea" => AddressRule::WheaRecord,
        "stack" => AddressRule::Stack,
        "process" => AddressRule::Process,
        "none" => AddressRule::NoModule,
        "manual" => AddressRule::Manual,
        "capture" => AddressRule::Capture,
        other => return Err(format!("unknown address rule {other:?}")),
    })
}

fn parse_code_line(head: &str, fields: &[&'static str]) -> Result<StopCode, String> {
    let [name, p1, p2, p3, p4, rule, key] = fields else {
        return Err(format!(
            "a code line needs 8 fields, found {}",
            fields.len() + 1
        ));
    };
    let code = parse_hex(head)
        .and_then(|c| u32::try_from(c).ok())
        .ok_or_else(|| format!("bad code {head:?}"))?;
    let mut parameters = [""; 4];
    let mut decoders = [None; 4];
    for (i, text) in [p1, p2, p3, p4].into_iter().enumerate() {
        let (meaning, decoder) = parse_parameter(text)?;
        if let (Some(p), Some(d)) = (parameters.get_mut(i), decoders.get_mut(i)) {
            *p = meaning;
            *d = decoder;
        }
    }
    Ok(StopCode {
        code,
        name: name.trim(),
        parameters,
        address_rule: parse_rule(rule)?,
        key: key.trim(),
        sub_codes: Vec::new(),
        decoders,
    })
}

fn parse_sub_line(
    head: &str,
    fields: &[&'static str],
    codes: &mut [StopCode],
) -> Result<(), String> {
    let mut words = head.split_whitespace();
    let (Some(code), Some(value), None) = (
        words.next().and_then(parse_hex),
        words.next().and_then(parse_hex),
        words.next(),
    ) else {
        return Err(format!("bad sub line head {head:?}"));
    };
    let entry = codes
        .iter_mut()
        .find(|c| u64::from(c.code) == code)
        .ok_or_else(|| format!("sub-code for unknown code {code:#x}"))?;
    let (name, meaning, rest) = match fields {
        [name, meaning, rest @ ..] if rest.len() <= 3 => (name, meaning, rest),
        _ => return Err("a sub line needs 3 to 6 fields".to_owned()),
    };
    let mut overrides = [None; 3];
    for (slot, text) in overrides.iter_mut().zip(rest) {
        let t = text.trim();
        *slot = (!t.is_empty()).then_some(t);
    }
    entry.sub_codes.push(SubCode {
        value,
        name: name.trim(),
        words: meaning.trim(),
        overrides,
    });
    Ok(())
}

/// The entry of `base` alone, read from the embedded texts as [`table`] would build it: its
/// code line and sub lines, or else its line of the names list.
pub(super) fn parse_entry(base: u32) -> Option<StopCode> {
    let wanted = Some(u64::from(base));
    let mut entry: Option<StopCode> = None;
    for line in TABLE_TEXT.lines() {
        let Some((head, rest)) = line.trim().split_once('|') else {
            continue;
        };
        let head = head.trim();
        if let Some(h) = head.strip_prefix("code ") {
            if entry.is_none() && parse_hex(h) == wanted {
                let fields: Vec<&'static str> = rest.split('|').collect();
                entry = parse_code_line(h, &fields).ok();
            }
        } else if let (Some(h), Some(e)) = (head.strip_prefix("sub "), entry.as_mut()) {
            if h.split_whitespace().next().and_then(parse_hex) == wanted {
                let fields: Vec<&'static str> = rest.split('|').collect();
                // A bad line is left out here as in the table (which lists it as an error).
                let _ = parse_sub_line(h, &fields, std::slice::from_mut(e));
            }
        }
    }
    if entry.is_some() {
        return entry;
    }
    NAMES_TEXT.lines().find_map(|line| {
        let (code, name) = line.trim().split_once('\t')?;
        let name = name.trim();
        (parse_hex(code) == wanted && !name.is_empty()).then(|| StopCode::named(base, name))
    })
}

pub(super) fn parse_table(text: &'static str) -> Table {
    // Sized once: growing a vector of ~150 entries by doubling copied and faulted in twice the
    // memory at every start-up.
    let described = text
        .lines()
        .filter(|l| l.trim_start().starts_with("code "))
        .count();
    let mut table = Table {
        codes: Vec::with_capacity(described),
        ..Table::default()
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields: Vec<&'static str> = line.split('|').collect();
        let head = if fields.is_empty() {
            ""
        } else {
            fields.remove(0).trim()
        };
        let result = if let Some(h) = head.strip_prefix("code ") {
            parse_code_line(h, &fields).map(|c| table.codes.push(c))
        } else if let Some(h) = head.strip_prefix("sub ") {
            parse_sub_line(h, &fields, &mut table.codes)
        } else if let Some(h) = head.strip_prefix("status ") {
            match (
                parse_hex(h).and_then(|s| u32::try_from(s).ok()),
                &fields[..],
            ) {
                (Some(status), [name, words]) => {
                    table.statuses.push(IoStatus {
                        status,
                        name: name.trim(),
                        words: words.trim(),
                    });
                    Ok(())
                }
                _ => Err("bad status line".to_owned()),
            }
        } else {
            Err(format!("unknown line kind {head:?}"))
        };
        if let Err(e) = result {
            table
                .errors
                .push(format!("stop-codes.txt line {}: {e}", n + 1));
        }
    }
    table
}
