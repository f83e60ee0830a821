//! The shareable state in a URL fragment, query style: `lab=sharp-minima&seed=7&eta=0.01`.
//! Parsing never fails as a whole: each malformed piece is reported and skipped.

use serde_json::Value;

/// The most characters of a fragment that are read (a link is not a document).
pub const MAX_FRAGMENT: usize = 4096;

/// `key=value` pairs of a fragment (with or without the leading `#`), percent-decoded, and a
/// notice for each piece that could not be read.
pub fn parse_fragment(fragment: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut pairs = Vec::new();
    let mut problems = Vec::new();
    let mut f = fragment.trim().trim_start_matches('#');
    if f.len() > MAX_FRAGMENT {
        problems.push(format!(
            "the link's state is {} characters long; only the first {MAX_FRAGMENT} were read",
            f.len()
        ));
        let mut end = MAX_FRAGMENT;
        while !f.is_char_boundary(end) {
            end -= 1;
        }
        f = &f[..end];
    }
    for piece in f.split('&').filter(|p| !p.is_empty()) {
        let Some((k, v)) = piece.split_once('=') else {
            problems.push(format!("ignored `{}`: expected key=value", short(piece)));
            continue;
        };
        match (decode(k), decode(v)) {
            (Some(k), Some(v)) if !k.is_empty() => {
                if pairs.iter().any(|(old, _): &(String, String)| *old == k) {
                    problems.push(format!("ignored a repeated `{k}`"));
                } else {
                    pairs.push((k, v));
                }
            }
            _ => problems.push(format!(
                "ignored `{}`: not valid percent-encoding",
                short(piece)
            )),
        }
    }
    (pairs, problems)
}

fn short(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for c in s.bytes() {
        if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// The fragment of `lab` with the scalar fields of `params` (seed first).
pub fn to_fragment(lab: &str, params: &Value) -> String {
    let mut parts = vec![format!("lab={lab}")];
    if let Some(obj) = params.as_object() {
        if let Some(seed) = obj.get("seed") {
            parts.push(format!("seed={seed}"));
        }
        for (k, v) in obj {
            if k == "seed" {
                continue;
            }
            let s = match v {
                Value::String(s) => encode(s),
                // Params come through `Lab::params_json`, which already writes f32s as written.
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            parts.push(format!("{}={s}", encode(k)));
        }
    }
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_pieces() {
        let (p, bad) = parse_fragment("#lab=sharp-minima&seed=7&eta=0.01&&junk&x=%ZZ&eta=2");
        assert_eq!(
            p,
            vec![
                ("lab".to_string(), "sharp-minima".to_string()),
                ("seed".to_string(), "7".to_string()),
                ("eta".to_string(), "0.01".to_string()),
            ]
        );
        assert_eq!(bad.len(), 3, "{bad:?}");
        let v = serde_json::json!({"seed": 3, "eta": 0.5, "noise": "pareto", "on": true});
        let f = to_fragment("smoothing", &v);
        assert!(f.starts_with("lab=smoothing&seed=3&"), "{f}");
        let (p, bad) = parse_fragment(&f);
        assert!(bad.is_empty());
        assert_eq!(p.len(), 5);
    }

    #[test]
    fn overlong_fragments_are_cut() {
        let long = format!("lab=rnn&{}", "a".repeat(10_000));
        let (_, bad) = parse_fragment(&long);
        assert!(bad.iter().any(|b| b.contains("only the first")), "{bad:?}");
    }
}
