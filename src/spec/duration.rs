//! Durations in a deployspec: humantime strings ("90s", "10m", "1h") both ways.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

pub(super) fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map_err(|e| serde::de::Error::custom(format!("invalid duration {s:?} ({e}); write e.g. \"90s\", \"10m\", \"1h\"")))
}

pub(super) fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}
