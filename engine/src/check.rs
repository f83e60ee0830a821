//! One way to validate a config field: ranges, finite values, counts and fractions, each with the
//! same message shape, `config field `a.b`: expected <what>, found <value>`.
//!
//! ```
//! use sgdlab_engine::check;
//! check::count("inits", 0, 1, 100_000).unwrap_err(); // config field `inits`: expected a whole number in [1, 100000], found 0
//! check::fraction("label_noise", 0.2).unwrap();
//! ```

use crate::error::{EngineError, Result};

/// Longest value a message quotes: a 200 MB string must not come back in an error.
const MAX_QUOTED: usize = 100;

/// `lo <= v <= hi` for a whole number.
pub fn count(field: &str, v: usize, lo: usize, hi: usize) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(expected(
            field,
            &format!("a whole number in [{lo}, {hi}]"),
            &v.to_string(),
        ))
    }
}

/// A finite `v` with `lo <= v <= hi`.
pub fn range(field: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(expected(
            field,
            &format!("a value in [{lo}, {hi}]"),
            &v.to_string(),
        ))
    }
}

/// A finite `v` with `lo < v <= hi` (a step size, a scale).
pub fn range_open_low(field: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if v.is_finite() && v > lo && v <= hi {
        Ok(())
    } else {
        Err(expected(
            field,
            &format!("a value in ({lo}, {hi}]"),
            &v.to_string(),
        ))
    }
}

/// A finite `v > 0`.
pub fn positive(field: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(expected(field, "a finite value > 0", &v.to_string()))
    }
}

/// A finite `v >= 0`.
pub fn non_negative(field: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(expected(field, "a finite value >= 0", &v.to_string()))
    }
}

/// A fraction in [0, 1].
pub fn fraction(field: &str, v: f64) -> Result<()> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(expected(field, "a fraction in [0, 1]", &v.to_string()))
    }
}

/// A fraction in [0, 1).
pub fn fraction_below_one(field: &str, v: f64) -> Result<()> {
    if v.is_finite() && (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(expected(field, "a fraction in [0, 1)", &v.to_string()))
    }
}

/// A list with `lo..=hi` entries.
pub fn list_len(field: &str, len: usize, lo: usize, hi: usize) -> Result<()> {
    if (lo..=hi).contains(&len) {
        Ok(())
    } else {
        Err(expected(
            field,
            &format!("a list of {lo} to {hi} entries"),
            &format!("{len} entries"),
        ))
    }
}

/// Every entry of a list passes `each`, whose errors name `field[i]`.
pub fn each<T: Copy>(
    field: &str,
    values: &[T],
    each: impl Fn(&str, T) -> Result<()>,
) -> Result<()> {
    for (i, &v) in values.iter().enumerate() {
        each(&format!("{field}[{i}]"), v)?;
    }
    Ok(())
}

/// A list strictly decreasing (or increasing, with `decreasing = false`).
pub fn monotone(field: &str, values: &[f64], decreasing: bool) -> Result<()> {
    for (i, w) in values.windows(2).enumerate() {
        let ok = if decreasing { w[1] < w[0] } else { w[1] > w[0] };
        if !ok {
            let order = if decreasing {
                "decreasing"
            } else {
                "increasing"
            };
            return Err(expected(
                &format!("{field}[{}]", i + 1),
                &format!("a strictly {order} list"),
                &format!("{} after {}", w[1], w[0]),
            ));
        }
    }
    Ok(())
}

/// The seeds `seed`, `seed + 1`, …, `seed + last` fit a `u64`: a run that derives seed + i must
/// not wrap to 0 (or panic in a debug build). `why` says where `last` comes from.
pub fn seed_range(field: &str, seed: u64, last: u64, why: &str) -> Result<()> {
    match seed.checked_add(last) {
        Some(_) => Ok(()),
        None => Err(EngineError::config(
            field,
            format!("{seed} + {last} ({why}) overflows a 64-bit seed"),
        )),
    }
}

/// The uniform error: `config field `field`: expected what, found found` (long values cut).
pub fn expected(field: &str, what: &str, found: &str) -> EngineError {
    EngineError::config(field, format!("expected {what}, found {}", quote(found)))
}

/// `value` cut to at most [`MAX_QUOTED`] characters, marking the cut.
pub fn quote(value: &str) -> String {
    if value.chars().count() <= MAX_QUOTED {
        value.to_string()
    } else {
        let head: String = value.chars().take(MAX_QUOTED).collect();
        format!("{head}… ({} characters)", value.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_one_shape() {
        let msgs = [
            count("a.b", 0, 1, 10).unwrap_err().to_string(),
            range("a.b", f64::NAN, 0.0, 1.0).unwrap_err().to_string(),
            positive("a.b", -1.0).unwrap_err().to_string(),
            fraction("a.b", 1.5).unwrap_err().to_string(),
            monotone("a.b", &[0.1, 0.2], true).unwrap_err().to_string(),
        ];
        for m in msgs {
            assert!(
                m.starts_with("config field `a.b")
                    && m.contains(": expected ")
                    && m.contains(", found "),
                "{m}"
            );
        }
        assert!(count("x", 5, 1, 10).is_ok() && fraction("x", 1.0).is_ok());
        assert!(
            fraction_below_one("x", 1.0).is_err() && range_open_low("x", 0.0, 0.0, 1.0).is_err()
        );
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(10_000);
        let m = expected("f", "short", &long).to_string();
        assert!(m.len() < 200 && m.contains("10000 characters"), "{m}");
    }

    #[test]
    fn a_seed_range_past_u64_max_is_refused() {
        assert!(seed_range("seed", u64::MAX - 1, 1, "`seeds` − 1").is_ok());
        let e = seed_range("seed", u64::MAX, 1, "`seeds` − 1").unwrap_err();
        let m = e.to_string();
        assert!(
            m.starts_with("config field `seed`") && m.contains("overflows a 64-bit seed"),
            "{m}"
        );
    }

    #[test]
    fn each_names_the_index() {
        let e = each("sweep", &[3usize, 0, 4], |f, v| count(f, v, 1, 9)).unwrap_err();
        assert!(e.to_string().contains("`sweep[1]`"), "{e}");
    }
}
