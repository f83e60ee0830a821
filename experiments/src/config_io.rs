//! Reading experiment configs from JSON with errors that name the field, and rejecting keys the
//! config does not have (a typo must not silently fall back to a default).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sgdlab_engine::error::{EngineError, Result};

/// Parses `text` (from `origin`, e.g. a file path) as a config of type `T`.
///
/// Errors name the offending field as a dotted path (`phase_a.optim.lr`), and keys that `T`
/// does not know are rejected with the list of known keys at that level.
pub fn parse_config<T: Serialize + DeserializeOwned>(text: &str, origin: &str) -> Result<T> {
    parse_config_over(text, origin, None::<&T>)
}

/// Like [`parse_config`], but the file may be partial: its values are merged over `base`
/// (object keys recursively; anything else replaces), so a file can change a single field.
pub fn parse_config_over<T: Serialize + DeserializeOwned>(
    text: &str,
    origin: &str,
    base: Option<&T>,
) -> Result<T> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(key) = first_duplicate_key(text) {
        return Err(EngineError::config(
            key,
            format!("in {origin}: this key appears twice in the same object; keep one"),
        ));
    }
    let user: Value = serde_json::from_str(text).map_err(|e| {
        EngineError::config(
            "<file>",
            format!(
                "{origin} is not valid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    // serde reads a struct from an array of its field values too, which would skip the check of
    // unknown keys below; a config is an object.
    if !user.is_object() {
        return Err(EngineError::config(
            "<file>",
            format!(
                "{origin}: a config is a JSON object ({{\"field\": value, ...}}), found {}",
                json_kind(&user)
            ),
        ));
    }
    let mut merged = match base {
        Some(b) => serde_json::to_value(b).map_err(|e| {
            EngineError::config("<root>", format!("cannot serialize the base config: {e}"))
        })?,
        None => Value::Null,
    };
    merge(&mut merged, &user);
    let config: T = serde_path_to_error::deserialize(merged).map_err(|e| {
        let path = e.path().to_string();
        EngineError::config(
            if path == "." {
                "<root>".to_string()
            } else {
                path
            },
            format!("in {origin}: {}", e.into_inner()),
        )
    })?;
    // Re-serializing fills in defaults; any key of the user's file absent from the result is
    // one the config type does not have.
    let known = serde_json::to_value(&config).map_err(|e| {
        EngineError::config(
            "<root>",
            format!("in {origin}: cannot re-serialize config: {e}"),
        )
    })?;
    check_known_keys(&user, &known, "", origin)?;
    Ok(config)
}

/// What kind of JSON value `v` is, for messages.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The dotted path of the first key that appears twice in one object of `text` (JSON keeps
/// the last silently, which would hide a typo's twin); `None` when there is none or `text` is
/// not JSON (the parser reports that).
fn first_duplicate_key(text: &str) -> Option<String> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::cell::RefCell;

    /// Walks any JSON value, recording the first duplicate key's path.
    struct Walk<'a> {
        path: String,
        found: &'a RefCell<Option<String>>,
    }
    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> std::result::Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
            let mut i = 0;
            while seq
                .next_element_seed(Walk {
                    path: format!("{}[{i}]", self.path),
                    found: self.found,
                })?
                .is_some()
            {
                i += 1;
            }
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(key) = map.next_key::<String>()? {
                let path = if self.path.is_empty() {
                    key.clone()
                } else {
                    format!("{}.{key}", self.path)
                };
                if !seen.insert(key) && self.found.borrow().is_none() {
                    *self.found.borrow_mut() = Some(path.clone());
                }
                map.next_value_seed(Walk {
                    path,
                    found: self.found,
                })?;
            }
            Ok(())
        }
    }
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let walk = Walk {
        path: String::new(),
        found: &found,
    };
    walk.deserialize(&mut de).ok()?;
    found.into_inner()
}

/// Merges `over` into `base`: objects key by key, recursively; other values replace.
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(bv) if !tag_changed(bv, v) => merge(bv, v),
                    // A tagged enum that changes its tag starts from the new variant's defaults
                    // where they are known (a partial `{"kind": "cnn"}` is a whole CNN), else
                    // from the user's object alone.
                    Some(bv) => {
                        let mut fresh = variant_default(bv, v).unwrap_or(Value::Null);
                        merge(&mut fresh, v);
                        *bv = fresh;
                    }
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The default of the variant `over` names, from the tagged enum that `base`'s variant
/// belongs to; `None` when that enum is not one with known defaults.
fn variant_default(base: &Value, over: &Value) -> Option<Value> {
    use sgdlab_engine::model::{CnnConfig, MlpConfig, NetworkConfig, ResnetConfig};
    use sgdlab_engine::optim::LrSchedule;
    let kind = |v: &Value| v.get("kind").and_then(Value::as_str).map(str::to_string);
    let (from, to) = (kind(base)?, kind(over)?);
    // Each tagged enum whose variants all have defaults: its variants' defaults as JSON.
    let enums: [Vec<Value>; 2] = [
        [
            NetworkConfig::Mlp(MlpConfig::new()),
            NetworkConfig::Cnn(CnnConfig::new()),
            NetworkConfig::Resnet(ResnetConfig::new()),
        ]
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .collect(),
        [LrSchedule::Constant]
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect(),
    ];
    enums
        .into_iter()
        .find(|variants| variants.iter().any(|v| kind(v).as_deref() == Some(&from)))?
        .into_iter()
        .find(|v| kind(v).as_deref() == Some(&to))
}

fn tag_changed(base: &Value, over: &Value) -> bool {
    match (base.get("kind"), over.get("kind")) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

fn check_known_keys(user: &Value, known: &Value, path: &str, origin: &str) -> Result<()> {
    match (user, known) {
        (Value::Object(u), Value::Object(k)) => {
            for (key, uv) in u {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => check_known_keys(uv, kv, &child, origin)?,
                    None => {
                        let mut names: Vec<&str> = k.keys().map(String::as_str).collect();
                        names.sort_unstable();
                        return Err(EngineError::config(
                            child,
                            format!(
                                "unknown key in {origin}; known keys here: {}",
                                names.join(", ")
                            ),
                        ));
                    }
                }
            }
            Ok(())
        }
        (Value::Array(u), Value::Array(k)) => {
            for (i, (uv, kv)) in u.iter().zip(k).enumerate() {
                check_known_keys(uv, kv, &format!("{path}[{i}]"), origin)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug)]
    struct Inner {
        lr: f64,
        #[serde(default)]
        momentum: f64,
    }

    #[derive(Serialize, Deserialize, Debug)]
    struct Outer {
        seed: u64,
        optim: Inner,
    }

    #[test]
    fn accepts_known_and_defaults() {
        let c: Outer = parse_config(r#"{"seed": 3, "optim": {"lr": 0.1}}"#, "t.json").unwrap();
        assert_eq!(c.seed, 3);
        assert_eq!(c.optim.momentum, 0.0);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse_config::<Outer>(r#"{"seed": 3, "optim": {"lr": 0.1, "lrr": 2}}"#, "t.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("optim.lrr") && e.contains("unknown key"), "{e}");
    }

    #[test]
    fn partial_file_merges_over_base() {
        let base = Outer {
            seed: 9,
            optim: Inner {
                lr: 0.5,
                momentum: 0.9,
            },
        };
        let c: Outer =
            parse_config_over(r#"{"optim": {"lr": 0.1}}"#, "t.json", Some(&base)).unwrap();
        assert_eq!((c.seed, c.optim.lr, c.optim.momentum), (9, 0.1, 0.9));
        let e = parse_config_over::<Outer>(r#"{"sed": 1}"#, "t.json", Some(&base)).unwrap_err();
        assert!(e.to_string().contains("`sed`"), "{e}");
    }

    #[test]
    fn duplicate_keys_are_named_and_a_bom_is_accepted() {
        let e = parse_config::<Outer>(
            r#"{"seed": 3, "optim": {"lr": 0.1, "momentum": 0.5, "lr": 0.2}}"#,
            "t.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`optim.lr`") && e.contains("twice"), "{e}");
        let c: Outer =
            parse_config("\u{feff}{\"seed\": 3, \"optim\": {\"lr\": 0.1}}", "t.json").unwrap();
        assert_eq!(c.seed, 3);
    }

    #[test]
    fn a_changed_variant_starts_from_its_defaults() {
        #[derive(Serialize, Deserialize, Debug)]
        struct WithNet {
            network: sgdlab_engine::model::NetworkConfig,
        }
        let base = WithNet {
            network: sgdlab_engine::model::NetworkConfig::default(),
        };
        let c: WithNet = parse_config_over(
            r#"{"network": {"kind": "cnn", "hidden": 64}}"#,
            "t.json",
            Some(&base),
        )
        .unwrap();
        match c.network {
            sgdlab_engine::model::NetworkConfig::Cnn(cnn) => {
                assert_eq!(cnn.hidden, 64);
                assert_eq!(
                    cnn.conv1_channels,
                    sgdlab_engine::model::CnnConfig::new().conv1_channels
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// An array of field values would deserialize as a struct and skip the unknown-key check;
    /// `[]` would report serde's internal name of the type.
    #[test]
    fn only_an_object_is_a_config() {
        let base = Outer {
            seed: 9,
            optim: Inner {
                lr: 0.5,
                momentum: 0.9,
            },
        };
        for (text, kind) in [
            (r#"[3, {"lr": 0.1, "lrr": 2}]"#, "an array"),
            ("[]", "an array"),
            ("3", "a number"),
            ("null", "null"),
            (r#""seed""#, "a string"),
        ] {
            for e in [
                parse_config::<Outer>(text, "t.json").unwrap_err(),
                parse_config_over::<Outer>(text, "t.json", Some(&base)).unwrap_err(),
            ] {
                let m = e.to_string();
                assert!(
                    m.contains("t.json")
                        && m.contains("a config is a JSON object")
                        && m.contains(kind)
                        && !m.contains("Outer"),
                    "{text}: {m}"
                );
            }
        }
    }

    #[test]
    fn wrong_type_names_the_path() {
        let e = parse_config::<Outer>(r#"{"seed": 3, "optim": {"lr": "fast"}}"#, "t.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("optim.lr"), "{e}");
        let e = parse_config::<Outer>("{not json", "t.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid JSON") && e.contains("line 1"), "{e}");
    }
}
